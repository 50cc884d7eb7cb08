"""The gradient pass for PyTorch models: the capture forward runs with autograd, one backward follows.

The task loss (docs/METHODS.md, gradients.flow) is summed over the rows the task scores, so the
gradient of a row's own loss is what lands on that row's hidden states and head masks
(transformer rows do not interact). Parameter gradients accumulate over batches in .grad and
are read once at the end of the pass (`parameter_gradient_norms`). Only block parameters take
gradients: the embedding matrix would cost a dense [vocab, d] gradient nobody reads.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

from auditor.models.base import Capability, ModelBatch, capture_points
from auditor.trace import TraceBatch, pool

# names of the attention output projection inside a block (BERT/ViT, GPT-2, LLaMA-style, DistilBERT, BART, T5)
_OUT_PROJ_SUFFIXES = ("attention.output.dense", "attn.c_proj", "self_attn.o_proj", "attn.o_proj", "o_proj",
                      "out_proj", "attention.out_lin", "attn.out_proj", "attention.dense", "attn.proj",
                      "SelfAttention.o")


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
    """The differentiable twin of trace.pool: [B, T, d] -> [B, d]."""
    import torch

    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "last":
        last = (mask.sum(dim=1) - 1).clamp(min=0)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    weights = mask.to(hidden.dtype).unsqueeze(-1)
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
    if task.kind == "probe_head":
        weights, bias = task.head()
        w = torch.as_tensor(weights, dtype=pooled.dtype, device=pooled.device)
        b = torch.as_tensor(bias, dtype=pooled.dtype, device=pooled.device)
        target = torch.as_tensor(task.targets(index), device=pooled.device)
        return F.cross_entropy(pooled @ w + b, target, reduction="none")
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
    import torch

    from auditor.models.hooks import block_boundaries, head_gates

    rows = np.asarray(task.rows(batch.index), dtype=bool)
    if not rows.any():   # nothing to back-propagate here (e.g. probe-head fit rows): a plain capture
        trace = adapter.capture(batch, points)
        task.observe(batch.index, pool(trace.hidden[-1], trace.mask, adapter.pooling))
        return trace
    blocks = adapter.blocks
    inputs = adapter._inputs(batch)
    size = batch.size
    mask_np = batch.mask if batch.mask is not None else None
    projections = adapter.head_projections or []
    heads = int(adapter.identity.heads or 0)
    gates = [torch.ones(size, heads, device=adapter.device, requires_grad=True) for _ in projections]
    want_attn = Capability.ATTENTIONS in capture_points(points)

    def leaf(hidden: Any) -> Any:   # H_0 as a leaf: its .grad is dLoss/dH_0
        return hidden.detach().requires_grad_(True)

    weighted = blocks if getattr(task, "parameter_gradients", True) else []
    with block_parameters_only(adapter.model, weighted), torch.enable_grad(), \
            block_boundaries(blocks, keep_graph=True, edit_input=leaf) as seen, \
            head_gates(projections, gates, heads):
        out = adapter.model(**inputs, output_attentions=want_attn, return_dict=True)
        hidden = seen.states()
        tokens = hidden[0].shape[1]
        mask = (torch.from_numpy(mask_np).to(adapter.device) if mask_np is not None
                else torch.ones(size, tokens, dtype=torch.bool, device=adapter.device))
        pooled = torch_pool(hidden[-1], mask, adapter.pooling)
        task.observe(batch.index, pooled.detach().float().cpu().numpy())
        losses = per_sample_loss(task, out, pooled, inputs, mask, batch.index)
        weight = torch.from_numpy(rows.astype(np.float32)).to(adapter.device)
        (losses * weight).sum().backward()
    valid = mask.unsqueeze(-1).to(hidden[0].dtype)
    grad_hidden = np.stack([_norms(h.grad, valid, size) for h in hidden], axis=1)            # [B, L+1]
    head_grad = (np.stack([g.grad.abs().float().cpu().numpy() for g in gates], axis=1)     # [B, L, H]
                 if gates and all(g.grad is not None for g in gates) else None)
    trace = adapter._trace(batch, points, [h.detach() for h in hidden], out)
    trace.grad_rows = rows
    trace.grad_hidden = grad_hidden * rows[:, None]
    trace.head_grad = head_grad * rows[:, None, None] if head_grad is not None else None
    trace.loss = losses.detach().float().cpu().numpy() * rows
    return trace


def _norms(grad: Any, valid: Any, size: int) -> np.ndarray:
    if grad is None:
        return np.full(size, np.nan)
    return (grad * valid).flatten(1).float().norm(dim=1).cpu().numpy()


def parameter_gradient_norms(model: Any, blocks: Sequence[Any]) -> list[float]:
    """||dLoss/dW||_F per block for the loss summed over the pass; the gradients are then released."""
    norms = []
    for block in blocks:
        total = 0.0
        for p in block.parameters():
            if p.grad is not None:
                total += float(p.grad.detach().float().pow(2).sum())
        norms.append(total ** 0.5)
    model.zero_grad(set_to_none=True)
    return norms
