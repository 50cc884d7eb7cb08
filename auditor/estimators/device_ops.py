"""Per-batch statistics where the captures are: torch on the model's device, or numpy (docs/ARCHITECTURE.md, Trace).

A PyTorch capture pass hands the checks device tensors ([B, T, d] states, [B, H, T, T] maps) in the
model's dtype; copying them to the host every batch was the largest transfer of a GPU audit. Each
function here takes either kind: a numpy argument goes to the numpy estimator it mirrors (ONNX
figures stay bit for bit what they were), a tensor is reduced on its own device with the same
arithmetic (float32 elementwise, float32/float64 sums as the numpy version, whatever the model's
dtype), and only the small per-batch results ([B], [B, L, H], [B, d]) are kept, as tensors, until
a check moves them to the host once (Parts.host, host).
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from auditor.estimators import attention as att
from auditor.estimators import perturbation as pert

_EPS = 1e-12
COMPACT_EVERY = 64    # Parts joins its pieces on the device after this many, so 10 000 probes stay a few tensors


def is_tensor(x: Any) -> bool:
    """True for a torch tensor (without importing torch where no model did)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def host(x: Any, dtype: Any = None) -> Any:
    """A numpy copy of a tensor (float32 for floating tensors of lower precision); numpy passes through."""
    if x is None or not is_tensor(x):
        return x if dtype is None or x is None else np.asarray(x, dtype=dtype)
    x = x.detach()
    if x.is_floating_point() and x.element_size() < 4:
        x = x.float()   # numpy has no bfloat16; half precision widens exactly
    out = x.cpu().numpy()
    return out if dtype is None else out.astype(dtype, copy=False)


def like(array: np.ndarray | None, ref: Any) -> Any:
    """A host array on the device of `ref` when `ref` is a tensor (masks, token flags); else as it is."""
    if array is None or not is_tensor(ref):
        return array
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).to(ref.device)


def rows(x: Any, selected: np.ndarray) -> Any:
    """x[selected] for a host boolean or index array, on either kind of x."""
    if not is_tensor(x):
        return x[selected]
    import torch

    picked = np.flatnonzero(selected) if np.asarray(selected).dtype == bool else np.asarray(selected)
    return x[torch.from_numpy(picked.astype(np.int64)).to(x.device)]


def stack(parts: Sequence[Any], axis: int = 0) -> Any:
    if parts and is_tensor(parts[0]):
        import torch

        return torch.stack(list(parts), dim=axis)
    return np.stack(parts, axis=axis)


def concat(parts: Sequence[Any]) -> Any:
    if parts and is_tensor(parts[0]):
        import torch

        return torch.cat(list(parts))
    return np.concatenate(parts)


class Parts:
    """Per-batch results kept where they were computed, joined every COMPACT_EVERY pieces; host() once at the end."""

    def __init__(self) -> None:
        self.pieces: list[Any] = []
        self._since = 0
        self._host: np.ndarray | None = None

    def __bool__(self) -> bool:
        return bool(self.pieces)

    def append(self, x: Any) -> None:
        self.pieces.append(x)
        self._host = None
        self._since += 1
        if self._since >= COMPACT_EVERY:
            self.pieces, self._since = [concat(self.pieces)], 0

    def host(self) -> np.ndarray:
        """Every piece in order as one numpy array: a single device-to-host copy (kept for later reads)."""
        if self._host is None:
            self._host = host(concat(self.pieces)) if self.pieces else np.zeros(0)
        return self._host


def _tf(x: Any) -> Any:
    """A tensor in float32 (bfloat16/float16 states widen exactly, as the host copies did)."""
    return x if x.dtype == _torch().float32 else x.float()


def _torch() -> Any:
    import torch

    return torch


# -- pooling and logits ------------------------------------------------------------------------------
def pool(hidden: Any, mask: Any, pooling: str) -> Any:
    """trace.pool on either kind: [B, T, d] -> [B, d]; a tensor's in float32 whatever the model's dtype, as
    models.torch_grad.torch_pool (a bfloat16 mean over tokens would round the sum)."""
    if not is_tensor(hidden):
        from auditor.trace import pool as host_pool

        return host_pool(hidden, np.asarray(mask), pooling)
    torch = _torch()
    mask = mask if is_tensor(mask) else like(mask, hidden)
    hidden = _tf(hidden)
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "last":
        last = (mask.sum(dim=1) - 1).clamp(min=0)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    weights = mask.to(torch.float32).unsqueeze(-1)
    if hidden.device.type != "cpu":
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    # on the CPU, numpy's order: tokens added one after another, so the pooled states (and every figure
    # estimated from them) are bit for bit those of the host path; a GPU sums its own way (within 1e-7)
    product = hidden * weights
    total = product[:, 0].clone()
    for token in range(1, product.shape[1]):
        total += product[:, token]
    return total / weights.sum(dim=1).clamp(min=1.0)


def last_valid(logits: Any, mask: Any) -> Any:
    """[B, C] logits: a causal LM's [B, T, V] at each row's last valid token (a tensor's in float32)."""
    if not is_tensor(logits):
        if logits.ndim != 3:
            return logits
        last = np.maximum(mask.sum(axis=1) - 1, 0) if mask is not None else np.full(logits.shape[0], -1)
        return logits[np.arange(logits.shape[0]), last]
    torch = _torch()
    if logits.dim() == 3:
        size = logits.shape[0]
        last = ((mask.sum(dim=1) - 1).clamp(min=0) if mask is not None
                else torch.full((size,), logits.shape[1] - 1, device=logits.device))
        logits = logits[torch.arange(size, device=logits.device), last.to(logits.device)]
    return _tf(logits)


def beside(head: tuple[np.ndarray, np.ndarray], ref: Any) -> tuple[Any, Any]:
    """A linear head (W, b) in float32 on the device of `ref` where it is a tensor (as it is otherwise)."""
    if not is_tensor(ref):
        return head
    return tuple(like(np.asarray(p, dtype=np.float32), ref) for p in head)   # type: ignore[return-value]


def linear(x: Any, head: tuple[Any, Any]) -> Any:
    """estimators.probe_head.predict: logits of a linear head (W, b) on states x [N, d]."""
    if not is_tensor(x):
        from auditor.estimators.probe_head import predict

        return predict(x, head)
    weight, bias = beside(head, x) if not is_tensor(head[0]) else head
    return _tf(x) @ weight + bias


# -- perturbation ------------------------------------------------------------------------------------
def frobenius(states: Any, mask: Any) -> Any:
    """[B] ||H||_F over each row's valid tokens, float64 (estimators.perturbation.frobenius)."""
    if not is_tensor(states):
        return pert.frobenius(states, mask)
    states = _tf(states)
    if mask is not None:
        states = states * mask[:, :states.shape[1], None]
    return _torch().linalg.vector_norm(states.flatten(1), dim=1, dtype=_torch().float64)


def relative_change(clean: Any, perturbed: Any, mask: Any, clean_norm: Any = None) -> Any:
    """[B] ||H' - H||_F / ||H||_F over valid tokens (estimators.perturbation.relative_change)."""
    if not is_tensor(clean):
        return pert.relative_change(clean, perturbed, mask, clean_norm)
    tokens = min(clean.shape[1], perturbed.shape[1])
    diff = frobenius(_tf(perturbed[:, :tokens]) - _tf(clean[:, :tokens]), mask)
    norm = frobenius(clean[:, :tokens], mask) if clean_norm is None else clean_norm
    return diff / norm.clamp(min=_EPS)


def row_cosine(a: Any, b: Any) -> Any:
    """[B] cosine between matching rows, float64 (estimators.perturbation.row_cosine)."""
    if not is_tensor(a):
        return pert.row_cosine(a, host(b))
    a, b = a.double().flatten(1), b.double().flatten(1)
    denom = (a.norm(dim=1) * b.norm(dim=1)).clamp(min=_EPS)
    return (a * b).sum(dim=1) / denom


def softmax_kl(clean_logits: Any, perturbed_logits: Any) -> Any:
    """[B] KL(p_clean || p_perturbed) in nats, float64 (estimators.perturbation.softmax_kl)."""
    if not is_tensor(clean_logits):
        return pert.softmax_kl(clean_logits, host(perturbed_logits))
    torch = _torch()
    log_p = torch.log_softmax(clean_logits.double(), dim=-1)
    log_q = torch.log_softmax(perturbed_logits.double(), dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1).clamp(min=0.0)


def flips(clean_logits: Any, perturbed_logits: Any) -> Any:
    """[B] 1.0 where the predicted class changed (float64)."""
    if not is_tensor(clean_logits):
        return pert.flips(clean_logits, host(perturbed_logits))
    return (clean_logits.argmax(dim=-1) != perturbed_logits.argmax(dim=-1)).double()


# -- attention ---------------------------------------------------------------------------------------
def is_causal(attn: Any, mask: Any) -> bool:
    """estimators.attention.is_causal on either kind (one scalar comes back)."""
    if not is_tensor(attn):
        return att.is_causal(attn, np.asarray(mask))
    torch = _torch()
    tokens = attn.shape[-1]
    upper = torch.ones((tokens, tokens), dtype=torch.bool, device=attn.device).triu(diagonal=1)
    valid = mask[:, :tokens].bool()
    allowed = valid[:, None, :, None] & valid[:, None, None, :] & upper
    return bool((torch.where(allowed, _tf(attn), 0.0) < 1e-6).all())


def finite_sum(values: Any) -> tuple[Any, Any]:
    """(sum over axis 0 of the finite entries, how many were finite) of a [B, ...] array or tensor."""
    if not is_tensor(values):
        finite = np.isfinite(values)
        return np.where(finite, values, 0.0).sum(axis=0), finite.sum(axis=0)
    finite = values.isfinite()
    return values.where(finite, 0.0).sum(dim=0), finite.sum(dim=0)


def head_stats(attn: Any, mask: Any, sink_tokens: Any = None, *, causal: bool | None = None,
               grid: tuple[int, int] | None = None, prefix: int = 0) -> att.HeadStats:
    """estimators.attention.head_stats on either kind: entropy, distance, sink [B, H] (float64 tensors on the device)."""
    if not is_tensor(attn):
        return att.head_stats(attn, np.asarray(mask), sink_tokens, causal=causal, grid=grid, prefix=prefix)
    torch = _torch()
    f64 = torch.float64
    a = _tf(attn)
    size, _heads, tokens, _ = a.shape
    valid = mask[:, :tokens].bool()
    if causal is None:
        causal = is_causal(attn, valid)
    allowed = valid[:, None, :] & valid[:, :, None]                                  # [B, Tq, Tk]
    if causal:
        allowed = allowed & torch.ones((tokens, tokens), dtype=torch.bool, device=a.device).tril()
    n_allowed = allowed.sum(dim=2)                                                   # [B, Tq]
    plogp = torch.where(allowed[:, None] & (a > 0), a * torch.log(a.clamp(min=1e-30)), 0.0).sum(dim=3, dtype=f64)
    norm = torch.log(n_allowed.clamp(min=2).to(f64))[:, None, :]
    query = (valid & (n_allowed >= 2))[:, None, :]
    entropy = _row_mean(-plogp / norm, query)

    sinks = torch.zeros((size, tokens), dtype=torch.bool, device=a.device)
    sinks[:, 0] = True
    if sink_tokens is not None:
        extra = sink_tokens if is_tensor(sink_tokens) else like(sink_tokens, a)
        sinks = sinks | extra[:, :tokens].bool()
    sink = _row_mean((a * sinks[:, None, None, :]).sum(dim=3, dtype=f64), valid[:, None, :])

    dist, query_rows = att._distances(tokens, grid, prefix)
    if query_rows is None:
        weights = torch.from_numpy(dist.astype(np.float32)).to(a.device)
        distance = _row_mean((a * weights).sum(dim=3, dtype=f64), valid[:, None, :])
    else:   # patch queries, attention on patch keys renormalised (the class token has no place on the grid)
        on_grid = a[..., prefix:]
        weight = on_grid.sum(dim=3).clamp(min=_EPS)
        per_row = (on_grid.double() * torch.from_numpy(dist).to(a.device)).sum(dim=3) / weight
        rows_ok = valid[:, None, :] & torch.from_numpy(query_rows).to(a.device)[None, None, :]
        distance = _row_mean(per_row, rows_ok)
    return att.HeadStats(entropy=entropy, distance=distance, sink=sink)


def _row_mean(values: Any, selected: Any) -> Any:
    """Mean over the query axis (last) of values [B, H, Tq] where selected [B, 1|H, Tq]; NaN where none."""
    selected = selected.expand_as(values)
    count = selected.sum(dim=2)
    total = values.where(selected, 0.0).sum(dim=2)
    return (total / count.clamp(min=1)).where(count > 0, float("nan"))


def rollout(attentions: Sequence[Any], mask: Any) -> Any:
    """Attention rollout [B, T, T] in float64 (estimators.attention.rollout)."""
    if not is_tensor(attentions[0]):
        return att.rollout(list(attentions), np.asarray(mask))
    torch = _torch()
    size, _, tokens, _ = attentions[0].shape
    eye = torch.eye(tokens, dtype=torch.float64, device=attentions[0].device)[None]
    result = eye.expand(size, tokens, tokens)
    for attn in attentions:
        mixed = 0.5 * attn.double().mean(dim=1) + 0.5 * eye
        mixed = mixed / mixed.sum(dim=2, keepdim=True).clamp(min=_EPS)
        result = mixed @ result
    return result * mask[:, None, :tokens]


def input_relevance(rolled: Any, mask: Any, pooling: str) -> Any:
    """[B, T] relevance of each input token for the pooled output (estimators.attention.input_relevance)."""
    if not is_tensor(rolled):
        return att.input_relevance(rolled, np.asarray(mask), pooling)
    torch = _torch()
    if pooling == "cls":
        rel = rolled[:, 0]
    elif pooling == "last":
        last = (mask.sum(dim=1) - 1).clamp(min=0)
        rel = rolled[torch.arange(rolled.shape[0], device=rolled.device), last]
    else:
        weights = mask[:, :, None].double()
        rel = (rolled * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    rel = rel * mask
    return rel / rel.sum(dim=1, keepdim=True).clamp(min=_EPS)
