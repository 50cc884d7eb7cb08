"""flow.pde's per-batch arithmetic: one batch's layer states and the token-axis operators every step shares.

Lap (the diffusion Laplacian) and Abar (the head-averaged attention) act along the token axis, the PCA
bases along the feature axis, so the operators here serve every step's fit and score alike
(auditor.checks.pde_stats).
"""
from __future__ import annotations

import numpy as np

from auditor.estimators.laplacian import laplacian
from auditor.trace import TraceBatch

EPS = 1e-12


def select_rows(batch: TraceBatch, keep: np.ndarray) -> TraceBatch:
    """The batch restricted to the probes in `keep` (a batch that straddles the fit/score split)."""
    return TraceBatch(index=batch.index[keep], mask=batch.mask[keep], hidden=[h[keep] for h in batch.hidden],
                      attentions=None if batch.attentions is None else [a[keep] for a in batch.attentions],
                      special=None if batch.special is None else batch.special[keep], grid=batch.grid,
                      prefix_tokens=batch.prefix_tokens)


def sink_tokens(batch: TraceBatch) -> np.ndarray:
    """Sink tokens per sequence: valid special tokens, else the first token."""
    mask = batch.mask.astype(bool)
    sinks = (batch.special & mask) if batch.special is not None else np.zeros_like(mask)
    none = ~sinks.any(axis=1)
    sinks[none, 0] = True
    return sinks


def rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-token dot products over the last axis: [..., d] x [..., d] -> [...]."""
    return np.einsum("...d,...d->...", a, b)


def seq_cos_sum(dot: np.ndarray, a2: np.ndarray, b2: np.ndarray, seq: np.ndarray, counts: np.ndarray) -> float:
    """Sum over sequences of the mean token-wise cosine, from per-token a.b, |a|^2 and |b|^2 of the valid tokens."""
    cos = dot.astype(np.float64) / np.maximum(np.sqrt(a2.astype(np.float64) * b2), EPS)
    return float((np.bincount(seq, weights=cos, minlength=len(counts)) / counts).sum())


class BatchFlow:
    """One batch's layer states in float32 and the token-axis operators of flow.pde, shared by all steps."""

    def __init__(self, batch: TraceBatch) -> None:
        self.batch = batch
        self.valid = batch.mask.astype(bool)
        self.sinks = sink_tokens(batch)
        self._weights = self.valid.astype(np.float32).reshape(1, -1)
        self._abar: dict[int, np.ndarray] = {}
        self._lap_weights: np.ndarray | None = None

    def hidden(self, layer: int) -> np.ndarray:
        return self.batch.hidden[layer].astype(np.float32, copy=False)

    @staticmethod
    def project(h: np.ndarray, q: np.ndarray) -> np.ndarray:
        """h Q for [B, T, d] states: one matrix product over all tokens -> [B, T, k]."""
        return (h.reshape(-1, h.shape[-1]) @ q).reshape(h.shape[:-1] + (q.shape[1],))

    def laplacian(self, h: np.ndarray) -> np.ndarray:
        return laplacian(h, self.valid, self.batch.grid, self.batch.prefix_tokens)

    def transport(self, step: int, hq: np.ndarray) -> np.ndarray | None:
        """(Abar H - H) Q = Abar (HQ) - HQ with Abar the head-averaged attention of the block; None without attention."""
        if self.batch.attentions is None:
            return None
        out = np.matmul(self.abar(step), hq)
        out -= hq
        return out

    def abar(self, step: int) -> np.ndarray:
        """The head-averaged attention of block `step` [B, T, T] (cached: a rollout task and a step task share it;
        computed twice at worst, to the same numbers)."""
        if step not in self._abar:
            self._abar[step] = self.batch.attentions[step].mean(axis=1, dtype=np.float32)
        return self._abar[step]

    def token_sum(self, x: np.ndarray) -> np.ndarray:
        """Sum over the valid tokens [d], in float64."""
        return (self._weights @ x.reshape(-1, x.shape[-1]))[0].astype(np.float64)

    def masked_sum(self, per_token: np.ndarray) -> float:
        return float(per_token[self.valid].sum(dtype=np.float64))

    def laplacian_sum(self, h: np.ndarray) -> np.ndarray:
        """Sum of Lap(h) over the valid tokens = sum_t c_t h_t with c = Lap(valid) (Lap is symmetric): 0 for a
        chain or a full grid, computed rather than assumed."""
        weights = self.lap_weights()
        if not weights.size:
            return np.zeros(h.shape[-1])
        return (weights @ h.reshape(-1, h.shape[-1]))[0].astype(np.float64)

    def lap_weights(self) -> np.ndarray:
        """c = Lap(valid) as [1, B*T] ([1, 0] where it is all zero), cached."""
        if self._lap_weights is None:
            c = self.laplacian(self.valid.astype(np.float32)[:, :, None])[:, :, 0]
            self._lap_weights = c.reshape(1, -1) if np.any(c) else np.zeros((1, 0), np.float32)
        return self._lap_weights

