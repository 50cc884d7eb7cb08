"""What the files beside an ONNX graph say: config.json, the tokenizer and the pooling config.

An exported graph carries no configuration of its own; exporters (optimum, sentence-transformers)
leave the model's config.json, tokenizer files and 1_Pooling/config.json beside it, sometimes one
folder up from an onnx/ folder. Every reading here is optional: a missing file gives nothing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.errors import BadInput
from auditor.models.encoding import has_tokenizer, load_tokenizer

# model_type values of causal language models, which pool at the last valid token
_CAUSAL_TYPES = {"gpt2", "gptj", "gpt_neo", "gpt_neox", "llama", "mistral", "mixtral", "qwen2", "qwen3",
                 "phi", "phi3", "falcon", "bloom", "opt", "gemma", "gemma2", "codegen"}


def model_dirs(file: Path, folder: Path) -> list[Path]:
    """Where the model's own tokenizer, config and pooling files sit (also above an onnx/ folder).

    A --tokenizer folder is not searched for config.json: it may belong to another model.
    """
    dirs = [folder, file.parent, *([file.parent.parent] if file.parent.name == "onnx" else [])]
    return list(dict.fromkeys(dirs))


def read_config(file: Path, folder: Path) -> dict[str, Any]:
    """The first non-empty config.json beside the graph ({} when there is none)."""
    return next((c for d in model_dirs(file, folder) if (c := read_json(d / "config.json"))), {})


def find_tokenizer(file: Path, folder: Path, tokenizer: Path | None) -> Any:
    """The tokenizer given with --tokenizer, else the one beside the graph, else None."""
    if tokenizer is not None:
        tokenizer = Path(tokenizer)
        return load_tokenizer(tokenizer if tokenizer.is_dir() else tokenizer.parent)
    found = next((d for d in model_dirs(file, folder) if has_tokenizer(d)), None)
    return load_tokenizer(found) if found else None


def pooling(file: Path, folder: Path, config: dict[str, Any], modality: str, prefix: int) -> tuple[str, str]:
    """(pooling, why): the model's own pooling config first, then what its kind implies."""
    if modality == "tensor":
        return "mean", "not applicable: the model reads no tokens or images"
    for d in model_dirs(file, folder):
        cfg = read_json(d / "1_Pooling" / "config.json")
        if cfg.get("pooling_mode_cls_token"):
            return "cls", "1_Pooling/config.json (CLS token)"
        if cfg.get("pooling_mode_lasttoken"):
            return "last", "1_Pooling/config.json (last token)"
        if cfg.get("pooling_mode_mean_tokens"):
            return "mean", "1_Pooling/config.json (mean over tokens)"
    if modality == "image" and prefix > 0:
        return "cls", "vision transformer: class token"
    arch = str((config.get("architectures") or [""])[0])
    if config.get("is_decoder") or arch.endswith("LMHeadModel") or "CausalLM" in arch \
            or config.get("model_type") in _CAUSAL_TYPES:
        return "last", "causal language model: last valid token"
    return "mean", "default: mean over valid tokens"


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file ({} when absent or not an object); BadInput when it is not JSON at all."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path.name} in {path.parent} is not valid JSON ({first_line(exc)})") from None
    return data if isinstance(data, dict) else {}


def first_line(exc: BaseException) -> str:
    """An exception's first line (runtimes raise multi-line messages), or its type's name."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
