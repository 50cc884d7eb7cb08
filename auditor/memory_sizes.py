"""How many bytes a model's passes need, from its config alone (auditor.memory_plan puts them together).

A transformers model is built on PyTorch's meta device: its parameters are counted without a weight being
read, and the passes the audit runs (the capture forward, the gradient pass, a perturbation pass) are
traced there with the audit's own hooks (models.hooks, models.torch_grad). Meta tensors have shapes but no
data, so tracing computes nothing; a dispatch mode adds up the bytes of every tensor while it is alive, so
the figure is the pass's peak of live tensors, transient ones included (attention scores, the backward's
gradients). Every tensor of a pass grows with its rows, so two traces give bytes = fixed + per_row x rows.
An ONNX graph's weights are its initializers' bytes; its activations are onnxruntime's and are not traced.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8}
# traced row counts: two points fix the line; 2 and 4 rather than 1 and 2 keep squeezed size-1 dims out
_ROWS = (2, 4)


@dataclass(frozen=True)
class Line:
    """bytes = fixed + per_row x rows, fitted through two traced row counts."""

    fixed: float
    per_row: float

    def at(self, rows: int) -> int:
        return max(0, int(round(self.fixed + self.per_row * rows)))


@dataclass(frozen=True)
class TorchSizes:
    """A transformers model's counts and its passes' bytes at the planned sequence length."""

    parameters: int               # of the whole model, as loaded
    block_parameters: int         # the blocks' parameters: the gradient pass keeps a gradient for each
    layers: int
    hidden: int
    heads: int
    logits_per_row: int           # float32 logits a row brings back: V x tokens (causal LM), classes, or 0
    capture: Line | None          # the capture forward (no autograd), attention maps kept when asked
    gradient: Line | None         # the capture forward with autograd and its backward (gradients excluded)
    perturbation: Line | None     # a perturbation pass: a forward of stacked copies with block states kept
    problem: str | None = None    # why the passes could not be traced (the first line of the error)


def dtype_bytes(dtype: str) -> int:
    return BYTES.get(dtype, 4)


class MetaModel:
    """A transformers model built from its config on the meta device: counted at once, traced on demand.

    Raises ValueError when the config cannot be read; transformers' own errors when its class cannot be built."""

    def __init__(self, folder: Path, dtype: str) -> None:
        self.config, self.model = _meta_model(folder, dtype)
        self.parameters = int(sum(p.numel() for p in self.model.parameters()))   # of the whole model, as loaded

    def sizes(self, tokens: int, *, attentions: bool, gradients: bool, perturbation: bool, loss_kind: str | None,
              image_size: int | None = None) -> TorchSizes:
        """The model's passes at `tokens` (a failed trace leaves them None and says why in `problem`)."""
        from auditor.models import seq2seq

        config, model = self.config, self.model
        if seq2seq.is_encoder_decoder(model):
            model = seq2seq.encoder_of(model)   # what the audit runs (models.seq2seq)
        layers = _layers(config)
        blocks = _blocks(model, layers)
        heads = int(getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None) or 0)
        vocab = int(getattr(config, "vocab_size", 0) or 0)
        logits = vocab * tokens if loss_kind == "causal_lm" else (int(getattr(config, "num_labels", 0) or 0)
                                                                  if loss_kind == "head" else 0)
        counts = dict(parameters=self.parameters, layers=len(blocks) if blocks else (layers or 0), heads=heads,
                      block_parameters=int(sum(p.numel() for b in blocks or [] for p in b.parameters())),
                      hidden=int(getattr(config, "hidden_size", None) or getattr(config, "n_embd", None) or 0),
                      logits_per_row=logits)
        if not blocks:
            return TorchSizes(**counts, capture=None, gradient=None, perturbation=None,
                              problem=f"no list of {layers} blocks found in {type(model).__name__}")
        tracer = _Tracer(model, blocks, heads, loss_kind, _inputs_maker(config, tokens, image_size))
        try:
            capture = _line(lambda rows: tracer.forward(rows, attentions=attentions, noise=False))
            gradient = _line(lambda rows: tracer.gradient(rows, attentions=attentions)) if gradients else None
            perturb = _line(lambda rows: tracer.forward(rows, attentions=False, noise=True)) if perturbation else None
        except Exception as exc:  # a forward that needs real data (an .item(), a data-dependent branch)
            return TorchSizes(**counts, capture=None, gradient=None, perturbation=None, problem=_first_line(exc))
        return TorchSizes(**counts, capture=capture, gradient=gradient, perturbation=perturb)


def _meta_model(folder: Path, dtype: str) -> tuple[Any, Any]:
    """(config, model) with every parameter on the meta device in `dtype`: nothing read, nothing allocated."""
    import torch
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    try:
        config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"config.json could not be read: {_first_line(exc)}") from None
    config._attn_implementation = "eager"   # as the adapter loads it: attention maps are real tensors
    cls = next((getattr(transformers, n) for n in getattr(config, "architectures", None) or []
                if getattr(transformers, n, None) is not None), None)
    with torch.device("meta"):
        model = cls(config) if cls is not None else transformers.AutoModel.from_config(config)
    return config, model.to({"float32": torch.float32, "bfloat16": torch.bfloat16,
                             "float16": torch.float16}.get(dtype, torch.float32)).eval()


def _layers(config: Any) -> int | None:
    for key in ("num_hidden_layers", "n_layer", "num_layers", "encoder_layers"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _blocks(model: Any, expected: int | None) -> list[Any] | None:
    """The block list as the adapter finds it: the largest ModuleList of the configured length."""
    from torch import nn

    found = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0
             and (not expected or len(m) == expected)]
    return list(max(found, key=lambda m: sum(p.numel() for p in m.parameters()))) if found else None


def _inputs_maker(config: Any, tokens: int, image_size: int | None) -> Any:
    """rows -> (inputs, mask) on the meta device. No attention mask is passed: building one reads its
    values (an .item() that meta tensors cannot answer); it is [rows, tokens] of bytes, beside [rows, tokens, d]."""
    import torch

    def make(rows: int) -> tuple[dict[str, Any], Any]:
        mask = torch.ones(rows, tokens, dtype=torch.bool, device="meta")
        if image_size:
            channels = int(getattr(config, "num_channels", 3) or 3)
            return {"pixel_values": torch.zeros(rows, channels, image_size, image_size, device="meta")}, None
        return {"input_ids": torch.zeros(rows, tokens, dtype=torch.long, device="meta")}, mask
    return make


def _line(trace: Any) -> Line:
    low, high = (trace(rows) for rows in _ROWS)
    per_row = (high - low) / (_ROWS[1] - _ROWS[0])
    return Line(fixed=low - per_row * _ROWS[0], per_row=per_row)


class _Tracer:
    """Runs one pass of the audit on the meta model and returns its peak of live tensor bytes."""

    def __init__(self, model: Any, blocks: list[Any], heads: int, loss_kind: str | None, inputs: Any) -> None:
        self.model, self.blocks, self.heads, self.loss_kind, self.inputs = model, blocks, heads, loss_kind, inputs

    def forward(self, rows: int, *, attentions: bool, noise: bool) -> int:
        """The capture forward (block states kept), or a perturbation pass's (`noise`: block 0's input is
        cloned with a float32 noise tensor of its shape, as models.torch_perturb adds it)."""
        import torch

        from auditor.models.hooks import block_boundaries

        def add_noise(hidden: Any) -> Any:
            direction = torch.zeros(hidden.shape, dtype=torch.float32, device=hidden.device)
            return hidden.clone() + direction.to(hidden.dtype)

        inputs, _mask = self.inputs(rows)
        with _Live() as live, torch.inference_mode(), \
                block_boundaries(self.blocks, edit_input=add_noise if noise else None) as seen:
            out = self.model(**inputs, output_attentions=attentions, return_dict=True)
            kept = (seen.states(), out)   # the states and outputs outlive the forward (the trace holds them)
        del kept
        return live.peak

    def gradient(self, rows: int, *, attentions: bool) -> int:
        """The gradient pass (models.torch_grad.capture_with_gradients) with the blocks' gradients
        already allocated, as they are from the second batch on: its peak beyond them."""
        import torch

        from auditor.models.hooks import block_boundaries, head_gates
        from auditor.models.torch_grad import block_parameters_only, output_projections, torch_pool

        params = [p for block in self.blocks for p in block.parameters()]
        for p in params:
            p.grad = torch.zeros_like(p)
        projections = output_projections(self.blocks, self.heads) or []
        inputs, mask = self.inputs(rows)
        device = next(iter(inputs.values())).device
        try:
            with _Live() as live, block_parameters_only(self.model, self.blocks), torch.enable_grad():
                gates = [torch.ones(rows, self.heads, device=device, requires_grad=True) for _ in projections]
                with block_boundaries(self.blocks, keep_graph=True,
                                      edit_input=lambda h: h.detach().requires_grad_(True)) as seen, \
                        head_gates(projections, gates, self.heads):
                    out = self.model(**inputs, output_attentions=attentions, return_dict=True)
                    states = seen.states()
                    if mask is None:
                        mask = torch.ones(rows, states[0].shape[1], dtype=torch.bool, device=device)
                    pooled = torch_pool(states[-1], mask, "last" if self.loss_kind == "causal_lm" else "mean")
                    _loss(self.loss_kind, out, pooled, inputs, mask).sum().backward()
        finally:
            for p in params:
                p.grad = None
        return live.peak


def _loss(kind: str | None, out: Any, pooled: Any, inputs: dict[str, Any], mask: Any) -> Any:
    """The task loss per row as models.torch_grad.per_sample_loss builds it, without its numpy targets."""
    import torch.nn.functional as F

    if kind == "causal_lm" and "input_ids" in inputs:
        logits = out.logits[:, :-1].float()
        tokens = F.cross_entropy(logits.transpose(1, 2), inputs["input_ids"][:, 1:], reduction="none")
        return (tokens * (mask[:, 1:] & mask[:, :-1]).float()).sum(dim=1)
    logits = getattr(out, "logits", None)
    if kind == "head" and logits is not None:
        logits = logits.float()
        if logits.dim() == 3:
            return F.cross_entropy(logits.transpose(1, 2), logits.argmax(dim=-1).detach(), reduction="none").sum(1)
        return F.cross_entropy(logits, logits.argmax(dim=-1).detach(), reduction="none")
    return (pooled.float() ** 2).sum(dim=1)   # a probe head: a [d, C] matmul on the pooled state


class _Live:
    """A dispatch mode that keeps the peak of the bytes of live tensor storages created inside it."""

    def __enter__(self) -> _Live:
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_leaves

        owner = self
        self.live = self.peak = 0
        self.seen: dict[int, int] = {}

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
                out = func(*args, **(kwargs or {}))
                # a view or an in-place op hands back storage that exists already (a weight's transpose)
                if not any(r.alias_info is not None for r in func._schema.returns):
                    for tensor in tree_leaves(out):
                        if hasattr(tensor, "untyped_storage"):
                            owner.add(tensor.untyped_storage())
                return out

        self.mode = Mode()
        self.mode.__enter__()
        return self

    def add(self, storage: Any) -> None:
        key = storage._cdata
        if key in self.seen:
            return
        size = int(storage.nbytes())
        self.seen[key] = size
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self.drop, key)

    def drop(self, key: int) -> None:
        self.live -= self.seen.pop(key, 0)

    def __exit__(self, *exc: Any) -> None:
        self.mode.__exit__(*exc)


def onnx_weights(path: Path) -> tuple[int, int, str]:
    """(parameters, bytes, dtype) of an ONNX graph's initializers and weight Constants, external data
    included by shape (the graph is read without its external data files)."""
    import onnx

    from auditor.models.onnx_weights import constant_weights, initializer_summary

    model = onnx.load(str(path), load_external_data=False)
    count, dtype = initializer_summary(model)
    shapes = [(t.data_type, list(t.dims)) for t in model.graph.initializer] + constant_weights(model)
    total = 0
    for data_type, dims in shapes:
        n = 1
        for d in dims:
            n *= d
        total += n * _element_bytes(data_type)
    return count, total, dtype


def _element_bytes(data_type: int) -> int:
    import onnx

    try:
        return int(onnx.helper.tensor_dtype_to_np_dtype(data_type).itemsize)
    except (KeyError, TypeError, ValueError):
        return 4


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
