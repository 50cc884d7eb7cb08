"""The activation cache one capture pass fills (docs/ARCHITECTURE.md, Trace).

A pass is asked for capture points, which are Capability values (models.base); each fills a
field of TraceBatch with a stable shape:
    hidden_states  -> hidden      states at layer boundary l = 0..L (0 = embeddings)  L+1 x [B, T, d]
    attentions     -> attentions  attention probabilities of block l = 0..L-1        L x [B, H, T, T]
    logits         -> logits      the model's output head, where it has one          [B, C] or [B, T, V]
    gradients      -> grad_*, head_grad, loss: one backward pass of the task loss, per-sample
                      grad norms per boundary [B, L+1] and per head [B, L, H]
The pooled representation z_l [N, d] per boundary is kept by Trace for every pass.
Arrays are float32 numpy on the CPU so checks work alike for PyTorch and ONNX models.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class TraceBatch:
    """What one batch of probes produced in the capture pass."""

    index: np.ndarray                     # [B] probe indices into the probe set
    mask: np.ndarray                      # [B, T] bool, True for valid (non-padding) tokens
    hidden: list[np.ndarray]              # L+1 x [B, T, d]
    attentions: list[np.ndarray] | None = None   # L x [B, H, T, T], None where unavailable
    logits: np.ndarray | None = None      # [B, C] (classifier) or [B, T, V] (causal LM)
    special: np.ndarray | None = None     # [B, T] bool, True for special tokens (CLS, SEP, ...)
    grid: tuple[int, int] | None = None   # (rows, cols) of the patch grid for vision models
    prefix_tokens: int = 0                # tokens before the patch grid (class/distillation)
    # optional, filled by the capture pass or the gradient pass (None where not asked for)
    inputs: Any = None                    # the encoded ModelBatch, for checks that re-run the model
    grad_rows: np.ndarray | None = None   # [B] bool, rows whose task loss was back-propagated
    grad_hidden: np.ndarray | None = None  # [B, L+1] per-sample ||dLoss_b/dH_l||_F (0 where not grad_rows)
    head_grad: np.ndarray | None = None   # [B, L, H] per-sample |dLoss_b/dxi_h| for a head-output mask xi
    loss: np.ndarray | None = None        # [B] per-sample task loss (0 where not grad_rows)

    @property
    def size(self) -> int:
        return int(self.index.shape[0])

    @property
    def num_layers(self) -> int:
        """Number of blocks L (hidden holds L+1 boundaries)."""
        return len(self.hidden) - 1


@dataclass
class Trace:
    """All batches of a capture pass, kept in memory when `retained` (small probe sets).

    Checks that must scale to large probe sets read per-batch statistics gathered by their
    accumulators during the pass (see checks.base.Check.accumulator) instead of `batches`.
    """

    batches: list[TraceBatch] = field(default_factory=list)
    retained: bool = True
    count: int = 0
    num_layers: int = 0
    pooling: str = "mean"
    accumulator_seconds: dict[str, float] = field(default_factory=dict)   # per check, during the pass
    # ||dLoss/dW||_F per block for the summed loss of every grad row (gradient pass only)
    grad_norm_params: list[float] | None = None
    _pooled_parts: list[list[np.ndarray]] = field(default_factory=list, repr=False)
    _logit_parts: list[np.ndarray] = field(default_factory=list, repr=False)
    _index_parts: list[np.ndarray] = field(default_factory=list, repr=False)

    def add(self, batch: TraceBatch) -> None:
        """Keep the batch (when retained) and always its pooled states z_l, which are small."""
        self.count += batch.size
        self.num_layers = batch.num_layers
        self._index_parts.append(np.asarray(batch.index))
        if not self._pooled_parts:
            self._pooled_parts = [[] for _ in batch.hidden]
        for parts, hidden in zip(self._pooled_parts, batch.hidden, strict=True):
            parts.append(pool(hidden, batch.mask, self.pooling).astype(np.float32))
        if batch.logits is not None and batch.logits.ndim == 3:
            # a causal LM's [B, T, V] logits are large; its prediction is at the last valid token
            batch.logits = batch.logits[np.arange(batch.size), np.maximum(batch.mask.sum(1) - 1, 0)]
        if batch.logits is not None:
            self._logit_parts.append(batch.logits)
        if self.retained:
            self.batches.append(batch)

    def _probe_order(self) -> np.ndarray:
        """Positions that put captured rows back in probe order (the pass may run fit probes first)."""
        return np.argsort(np.concatenate(self._index_parts), kind="stable") if self._index_parts else np.array([], int)

    @property
    def pooled(self) -> list[np.ndarray]:
        """z_l [N, d] per layer boundary l = 0..L, in probe order."""
        order = self._probe_order()
        return [np.concatenate(parts)[order] for parts in self._pooled_parts]

    @property
    def logits(self) -> np.ndarray | None:
        """[N, C] output logits (a causal LM's at the last valid token) in probe order, where there is a head."""
        return np.concatenate(self._logit_parts)[self._probe_order()] if self._logit_parts else None

    def __iter__(self) -> Iterator[TraceBatch]:
        return iter(self.batches)

    def has_attentions(self) -> bool:
        return bool(self.batches) and self.batches[0].attentions is not None


def pool(hidden: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    """z = pooled representation [B, d] of hidden [B, T, d] under the model's convention.

    mean: mean over valid tokens; cls: the first token; last: the last valid token.
    """
    if pooling == "cls":
        return hidden[:, 0, :]
    if pooling == "last":
        last = np.maximum(mask.sum(axis=1) - 1, 0)
        return hidden[np.arange(hidden.shape[0]), last, :]
    weights = mask.astype(hidden.dtype)[:, :, None]
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
