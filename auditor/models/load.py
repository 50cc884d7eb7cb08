"""Choosing and loading the adapter for a model path, after the safety checks."""
from __future__ import annotations

from pathlib import Path

from auditor.errors import BadInput
from auditor.models.base import ModelAdapter


def load_model(path: str | Path, *, tokenizer: str | Path | None = None, layer_outputs: list[str] | None = None,
               device: str = "auto", dtype: str = "auto") -> ModelAdapter:
    """The adapter for `path` (transformers folder or ONNX file/folder); BadInput when refused."""
    from auditor.models import safety

    path = Path(path).expanduser()
    kind = safety.detect_format(path)
    tokenizer_path = Path(tokenizer).expanduser() if tokenizer else None
    if tokenizer_path is not None and not tokenizer_path.exists():
        raise BadInput(f"--tokenizer {tokenizer}: no such file or folder")
    if tokenizer_path is not None and tokenizer_path.is_file():
        tokenizer_path = tokenizer_path.parent   # a tokenizer.json names its folder
    if kind == "transformers":
        if layer_outputs:
            raise BadInput("--layer-outputs applies to ONNX models only")
        safety.validate_safetensors(path)
        from auditor.models.torch_adapter import TorchAdapter

        return TorchAdapter(path, device=device, dtype=dtype)
    if dtype not in ("auto", "float32"):
        # an ONNX graph runs in the precision it was exported in; converting it would audit another model
        raise BadInput(f"--dtype {dtype} applies to transformers folders; an ONNX graph runs in the precision "
                       "it was exported in (use --dtype auto)")
    onnx_path = safety.onnx_file_in(path) if path.is_dir() else path
    safety.validate_onnx(onnx_path)
    from auditor.models.onnx_adapter import OnnxAdapter

    adapter = OnnxAdapter(path, tokenizer=tokenizer_path, layer_outputs=layer_outputs, device=device)
    if dtype == "float32" and adapter.identity.dtype not in ("float32", None):
        adapter.close()
        raise BadInput(f"--dtype float32: this ONNX graph's weights are {adapter.identity.dtype} and it runs in the "
                       "precision it was exported in (use --dtype auto)")
    return adapter
