"""The gradient pass for PyTorch models: the capture forward runs with autograd, one backward follows.

The task loss (docs/METHODS.md, gradients.flow) is summed over the rows the task scores, so the
gradient of a row's own loss is what lands on that row's hidden states and head masks
(transformer rows do not interact). Parameter gradients accumulate over batches in .grad and
are read once at the end of the pass (`parameter_gradient_norms`). Only block parameters take
gradients: the embedding matrix would cost a dense [vocab, d] gradient nobody reads.

Reduced precision (docs/METHODS.md, Precision): a bfloat16/float16 model's .grad would sum the
batches in its own dtype, where a batch's share below 2^-8 of the running sum is rounded away, so
each batch's gradients are folded into float32 sums instead (the float32 path is unchanged). A
float16 backward multiplies the loss by LOSS_SCALE, as mixed-precision training does, so small
gradients do not underflow float16's range; every gradient read is divided by it again.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from auditor.estimators import device_ops as ops
from auditor.models.base import Capability, ModelBatch, capture_points
from auditor.trace import TraceBatch

# names of the attention output projection inside a block (BERT/ViT, GPT-2, LLaMA-style, DistilBERT, BART, T5)
_OUT_PROJ_SUFFIXES = ("attention.output.dense", "attn.c_proj", "self_attn.o_proj", "attn.o_proj", "o_proj",
                      "out_proj", "attention.out_lin", "attn.out_proj", "attention.dense", "attn.proj",
                      "SelfAttention.o")
# float16's smallest normal number is 6e-5: per-element gradients of a wide model's hidden states sit near
# it, so the loss is scaled up before a float16 backward (bfloat16 has float32's range and needs none)
LOSS_SCALE = {"float16": 2.0 ** 10}
# float32 sums of reduced-precision block parameter gradients, per block and parameter name, until read
_GRAD_SUMS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


class GradientTask(Protocol):
    """What the loss is and which probes it counts (built by the checks, model-free)."""

    kind: str            # "head" | "causal_lm" | "probe_head"
    parameter_gradients: bool   # False: gradients for activations and head masks only (a cheaper backward)

    def rows(self, index: np.ndarray) -> np.ndarray:
        """[B] bool: rows whose loss is back-propagated."""

    def observe(self, index: np.ndarray, pooled: np.ndarray) -> None:
        """Final-layer pooled states of every captured row (a probe head fits on them)."""

    def targets(self, index: np.ndarray) -> np.ndarray | None:
        """[B] class targets; -1 means the model's own prediction."""

    def head(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(W [d, C], b [C]) of the fitted probe head, for kind 'probe_head'."""


def output_projections(blocks: Sequence[Any], heads: int | None) -> list[Any] | None:
    """Each block's attention output projection (its input is the heads side by side), or None."""
    if not blocks or not heads:
        return None
    found = []
    for block in blocks:
        named = list(block.named_modules())
        linear = [(n, m) for n, m in named if _in_features(m) is not None]
        pick = next((m for suffix in _OUT_PROJ_SUFFIXES for n, m in linear if n.endswith(suffix)), None)
        if pick is None:   # last linear layer under an attention module, after its q/k/v
            attn = [m for n, m in linear if ("attn" in n or "attention" in n) and "cross" not in n]
            pick = attn[-1] if attn else None
        if pick is None or _in_features(pick) % heads:
            return None
        found.append(pick)
    return found


def _in_features(module: Any) -> int | None:
    from torch import nn

    if isinstance(module, nn.Linear):
        return int(module.in_features)
    if type(module).__name__ == "Conv1D" and getattr(module, "weight", None) is not None:   # GPT-2's Linear
        return int(module.weight.shape[0])
    return None


@contextmanager
def block_parameters_only(model: Any, blocks: Sequence[Any]) -> Iterator[None]:
    """Within the context only the parameters of `blocks` require gradients (none for an empty list);
    the flags come back afterwards."""
    params = list(model.parameters())
    saved = [p.requires_grad for p in params]
    block_ids = {id(p) for block in blocks for p in block.parameters()}
    try:
        for p in params:
            p.requires_grad_(id(p) in block_ids)
        yield
    finally:
        for p, flag in zip(params, saved, strict=True):
            p.requires_grad_(flag)


def torch_pool(hidden: Any, mask: Any, pooling: str) -> Any:
    """The differentiable twin of trace.pool: [B, T, d] -> [B, d], in float32 whatever the model's dtype
    (a bfloat16 mean over tokens would round the sum, and every caller compares pooled outputs)."""
    import torch

    hidden = hidden.float()
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "last":
        last = (mask.sum(dim=1) - 1).clamp(min=0)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    weights = mask.to(torch.float32).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def per_sample_loss(task: GradientTask, out: Any, pooled: Any, inputs: dict[str, Any], mask: Any,
                    index: np.ndarray) -> Any:
    """[B] task loss per row: model head, causal-LM next-token loss, or the fitted probe head."""
    import torch
    import torch.nn.functional as F

    if task.kind == "causal_lm":
        logits = out.logits[:, :-1].float()
        target = inputs["input_ids"][:, 1:]
        valid = (mask[:, 1:] & mask[:, :-1]).float()
        tokens = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")      # [B, T-1]
        return (tokens * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)
    if task.kind == "probe_head":   # the fitted head in float32, never rounded to the model's dtype
        weights, bias = task.head()
        w = torch.as_tensor(weights, dtype=torch.float32, device=pooled.device)
        b = torch.as_tensor(bias, dtype=torch.float32, device=pooled.device)
        target = torch.as_tensor(task.targets(index), device=pooled.device)
        return F.cross_entropy(pooled.float() @ w + b, target, reduction="none")
    logits = out.logits.float()
    if logits.dim() == 3:   # token-level head: the model's own predictions at every valid token
        own = logits.argmax(dim=-1).detach()
        tokens = F.cross_entropy(logits.transpose(1, 2), own, reduction="none")
        valid = mask.float()
        return (tokens * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)
    target = torch.as_tensor(task.targets(index), device=logits.device)
    own = logits.argmax(dim=-1).detach()
    target = torch.where(target < 0, own, target)
    return F.cross_entropy(logits, target, reduction="none")


def capture_with_gradients(adapter: Any, batch: ModelBatch, points: frozenset[str], task: GradientTask) -> TraceBatch:
    """The capture forward with autograd, then one backward of the task loss over the task's rows."""
    rows = np.asarray(task.rows(batch.index), dtype=bool)
    if not rows.any():   # nothing to back-propagate here (e.g. probe-head fit rows): a plain capture
        trace = adapter.capture(batch, points)
        # pooled where the states are (estimators.device_ops): only the small [B, d] rows come to the host
        task.observe(batch.index, ops.host(ops.pool(trace.device_hidden[-1], trace.device_mask, adapter.pooling)))
        return trace
    weighted = adapter.blocks if getattr(task, "parameter_gradients", True) else []
    scale = loss_scale(adapter.model)
    run = _backward(adapter, batch, points, task, rows, weighted, scale)
    if scale != 1.0 and not run.finite():   # the scaled float16 gradients overflowed: once more unscaled
        for block in weighted:
            for p in block.parameters():
                p.grad = None
        scale = 1.0
        run = _backward(adapter, batch, points, task, rows, weighted, scale)
    fold_parameter_gradients(weighted, scale)
    trace = adapter._trace(batch, points, [h.detach() for h in run.hidden], run.out)
    trace.grad_rows = rows
    trace.grad_hidden = run.grad_hidden / scale * rows[:, None]
    trace.head_grad = run.head_grad / scale * rows[:, None, None] if run.head_grad is not None else None
    trace.loss = run.losses.detach().float().cpu().numpy() * rows
    return trace


@dataclass
class _Backward:
    """One forward with autograd and its backward: what capture_with_gradients reads off it."""

    out: Any
    hidden: list[Any]
    losses: Any
    grad_hidden: np.ndarray              # [B, L+1] gradient norms, still multiplied by the loss scale
    head_grad: np.ndarray | None         # [B, L, H]

    def finite(self) -> bool:
        return bool(np.isfinite(self.grad_hidden).all()
                    and (self.head_grad is None or np.isfinite(self.head_grad).all()))


def _backward(adapter: Any, batch: ModelBatch, points: frozenset[str], task: GradientTask, rows: np.ndarray,
              weighted: Sequence[Any], scale: float) -> _Backward:
    import torch

    from auditor.models.hooks import block_boundaries, head_gates

    size = batch.size
    projections = adapter.head_projections or []
    heads = int(adapter.identity.heads or 0)
    gates = [torch.ones(size, heads, device=adapter.device, requires_grad=True) for _ in projections]
    want_attn = Capability.ATTENTIONS in capture_points(points)
    inputs = adapter._inputs(batch)

    def leaf(hidden: Any) -> Any:   # H_0 as a leaf: its .grad is dLoss/dH_0
        return hidden.detach().requires_grad_(True)

    with block_parameters_only(adapter.model, weighted), torch.enable_grad(), \
            block_boundaries(adapter.blocks, keep_graph=True, edit_input=leaf) as seen, \
            head_gates(projections, gates, heads):
        out = adapter.model(**inputs, output_attentions=want_attn, return_dict=True)
        hidden = seen.states()
        tokens = hidden[0].shape[1]
        mask = (torch.from_numpy(batch.mask).to(adapter.device) if batch.mask is not None
                else torch.ones(size, tokens, dtype=torch.bool, device=adapter.device))
        pooled = torch_pool(hidden[-1], mask, adapter.pooling)
        task.observe(batch.index, pooled.detach().cpu().numpy())   # idempotent: a rerun adds nothing
        losses = per_sample_loss(task, out, pooled, inputs, mask, batch.index).float()
        weight = torch.from_numpy(rows.astype(np.float32)).to(adapter.device)
        # float32 scalar times the loss scale (1.0 unless float16): autograd casts back per tensor
        ((losses * weight).sum() * scale).backward()
    valid = mask.unsqueeze(-1).to(torch.float32)
    grad_hidden = np.stack([_norms(h.grad, valid, size) for h in hidden], axis=1)           # [B, L+1]
    head_grad = (np.stack([g.grad.abs().float().cpu().numpy() for g in gates], axis=1)    # [B, L, H]
                 if gates and all(g.grad is not None for g in gates) else None)
    return _Backward(out=out, hidden=hidden, losses=losses, grad_hidden=grad_hidden,
                     head_grad=head_grad)


def _norms(grad: Any, valid: Any, size: int) -> np.ndarray:
    if grad is None:
        return np.full(size, np.nan)
    return (grad.float() * valid).flatten(1).norm(dim=1).cpu().numpy()


def loss_scale(model: Any) -> float:
    """The factor the loss is multiplied by before a backward in the model's dtype (LOSS_SCALE; else 1)."""
    first = next(iter(model.parameters()), None)
    return LOSS_SCALE.get(str(first.dtype).replace("torch.", ""), 1.0) if first is not None else 1.0


def fold_parameter_gradients(blocks: Sequence[Any], scale: float = 1.0) -> None:
    """Reduced-precision block parameter gradients of one backward, added to their float32 sums (divided by
    the loss scale) and released; float32 parameters keep summing in .grad, exactly as before."""
    import torch

    for block in blocks:
        for name, p in block.named_parameters():
            if p.grad is None or (p.grad.dtype == torch.float32 and scale == 1.0):
                continue
            sums = _GRAD_SUMS.setdefault(block, {})
            grad = p.grad.detach().float() / scale
            sums[name] = grad if name not in sums else sums[name].add_(grad)
            p.grad = None


def parameter_gradient_norms(model: Any, blocks: Sequence[Any]) -> list[float]:
    """||dLoss/dW||_F per block for the loss summed over the pass; the gradients are then released."""
    norms = []
    for block in blocks:
        sums = _GRAD_SUMS.pop(block, {})
        total = 0.0
        for name, p in block.named_parameters():
            grad = sums.get(name, p.grad)
            if grad is not None:
                total += float(grad.detach().float().pow(2).sum())
        norms.append(total ** 0.5)
    model.zero_grad(set_to_none=True)
    return norms
