"""The paper's attention claim, tested: drift-diffusion kernels fitted to real attention rows.

A kernel row for query i is a Gaussian in the key offset, K(i, j) ~ exp(-(j - i - v)^2 / (2 s^2))
over the keys the model can attend to (valid keys; keys up to i for causal models), mixed with a
sink weight w on the sink tokens (special tokens such as [CLS]/[SEP] or a class token; the first
token where there are none): k = (1 - w) K / sum K + w S / sum S — the Green's function of one
advection-diffusion step plus a sink. One (v, s, w) per head, shared by all rows, is chosen on the
fit split by a grid search on the mean row cosine (over a seeded sample of up to 4 query rows per
fit sequence: three numbers per head need no more), and scored on every held-out row. The grid contains
the exact uniform kernel (s = infinity, w = 0), so a fit is never worse than uniform on the fit rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OFFSETS = np.arange(-6, 7, dtype=np.float64)               # v: drift, in tokens
WIDTHS = np.array([0.5, 1.0, 2.0, 4.0, 8.0, 16.0])          # s: spread, in tokens
SINK_WEIGHTS = np.array([0.0, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0])
_CHUNK = 16
_EPS = 1e-12


def candidates() -> list[tuple[float, float]]:
    """(v, s) pairs; s = inf is the uniform kernel."""
    return [(float(v), float(s)) for v in OFFSETS for s in WIDTHS] + [(0.0, float("inf"))]


def _offsets(queries: np.ndarray, tokens: int) -> np.ndarray:
    """j - i for each selected query row i [R] and key j -> [R, T]."""
    return np.arange(tokens)[None, :] - queries[:, None]


def _gaussian_rows(cands: list[tuple[float, float]], offsets: np.ndarray) -> np.ndarray:
    """Unnormalised kernels [R, C, T] for the selected rows."""
    out = np.empty((offsets.shape[0], len(cands), offsets.shape[1]), dtype=np.float32)
    for c, (v, s) in enumerate(cands):
        out[:, c] = 1.0 if np.isinf(s) else np.exp(-((offsets - v) ** 2) / (2.0 * s * s))
    return out


def support(mask: np.ndarray, causal: bool) -> np.ndarray:
    """[B, T, T] keys each valid query may attend to."""
    sup = mask[:, None, :] & mask[:, :, None]
    if causal:
        sup = sup & np.tril(np.ones((mask.shape[1], mask.shape[1]), dtype=bool))[None]
    return sup


def sink_rows(sup: np.ndarray, sinks: np.ndarray) -> np.ndarray:
    """The sink distribution per row over its support (zeros where no sink is reachable); [..., T]."""
    s = sup & sinks
    total = s.sum(axis=-1, keepdims=True)
    return np.where(total > 0, s / np.maximum(total, 1), 0.0).astype(np.float32)


def _cosine_sums(a: np.ndarray, g: np.ndarray, s: np.ndarray) -> np.ndarray:
    """sum over rows of cos(a, (1-w) g + w s), for every head, candidate and sink weight.

    a [R,H,T] attention rows, g [R,C,T] candidate kernel rows, s [R,T] sink rows -> [H, C, W].
    The cosine's numerator is linear in w and the kernel norm does not depend on the head, so it
    all reduces to small matrix products (no [R,H,C,W] array).
    """
    ag = np.matmul(a, g.transpose(0, 2, 1))                                   # [R, H, C]
    gg = (g * g).sum(axis=2)                                                   # [R, C]
    gs = np.matmul(g, s[:, :, None])[:, :, 0]                                  # [R, C]
    as_ = np.matmul(a, s[:, :, None])[:, :, 0]                                 # [R, H]
    ss = (s * s).sum(axis=1)                                                   # [R]
    # no reachable sink: the sink weight means nothing, so every w is the plain Gaussian
    w = np.where(ss[:, None] > 0, SINK_WEIGHTS[None, :], 0.0)                  # [R, W]
    knorm2 = ((1 - w) ** 2)[:, None, :] * gg[:, :, None] + (2 * w * (1 - w))[:, None, :] * gs[:, :, None] \
        + (w ** 2 * ss[:, None])[:, None, :]                                   # [R, C, W]
    inv_k = 1.0 / np.maximum(np.sqrt(np.maximum(knorm2, 0.0)), _EPS)
    weight = 1.0 / np.maximum(np.sqrt((a * a).sum(axis=2)), _EPS)              # [R, H] = 1 / |a|
    # sum_r ag*weight*(1-w)*inv_k  +  sum_r as*weight*w*inv_k
    x1 = np.einsum("rhc,rcw->hcw", ag * weight[:, :, None], (1 - w)[:, None, :] * inv_k, optimize=True)
    x2 = np.einsum("rh,rcw->hcw", as_ * weight, w[:, None, :] * inv_k, optimize=True)
    return x1 + x2


def _select_rows(mask: np.ndarray, per_sequence: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(sequence, query) pairs: up to `per_sequence` seeded random valid queries of each sequence."""
    seqs, queries = [], []
    for b, row in enumerate(mask):
        valid = np.flatnonzero(row)
        pick = valid if len(valid) <= per_sequence else np.sort(rng.choice(valid, per_sequence, replace=False))
        seqs.append(np.full(len(pick), b))
        queries.append(pick)
    return np.concatenate(seqs), np.concatenate(queries)


@dataclass
class KernelFit:
    """Per-layer grid statistics on fit rows, then per-head choices scored on held-out rows."""

    heads: int
    causal: bool
    rows_per_sequence: int = 4               # fit rows: a seeded sample of queries per sequence
    seed: int = 0
    cands: list[tuple[float, float]] = field(default_factory=candidates)
    fit_sum: np.ndarray | None = None        # [H, C, W]
    fit_rows: int = 0
    choice: list[tuple[float, float, float]] | None = None   # (v, s, w) per head
    score_kernel_sum: np.ndarray | None = None               # [H]
    score_uniform_sum: np.ndarray | None = None              # [H]
    score_rows: int = 0

    def add_fit(self, attn: np.ndarray, mask: np.ndarray, sinks: np.ndarray) -> None:
        """attn [B, H, T, T] probabilities of fit-split sequences (a seeded sample of their rows)."""
        if not hasattr(self, "_rng"):
            self._rng = np.random.default_rng([self.seed, 4242])
        seq, query = _select_rows(mask.astype(bool), self.rows_per_sequence, self._rng)
        sup = support(mask, self.causal)[seq, query]                                   # [R, T]
        a = attn[seq, :, query].astype(np.float32) * sup[:, None]                      # [R, H, T]
        s = sink_rows(sup, sinks[seq])                                                 # [R, T]
        offsets = _offsets(query, mask.shape[1])
        total = np.zeros((self.heads, len(self.cands), len(SINK_WEIGHTS)))
        for start in range(0, len(self.cands), _CHUNK):
            chunk = self.cands[start:start + _CHUNK]
            e = _gaussian_rows(chunk, offsets) * sup[:, None]                          # [R, C, T]
            g = e / np.maximum(e.sum(axis=2, keepdims=True), _EPS)
            total[:, start:start + len(chunk)] = _cosine_sums(a, g, s)
        self.fit_sum = total if self.fit_sum is None else self.fit_sum + total
        self.fit_rows += len(seq)

    def solve(self) -> None:
        assert self.fit_sum is not None and self.fit_rows, "no fit rows"
        self.choice = []
        for h in range(self.heads):
            c, w = np.unravel_index(int(np.argmax(self.fit_sum[h])), self.fit_sum[h].shape)
            v, s = self.cands[c]
            self.choice.append((v, s, float(SINK_WEIGHTS[w])))

    def kernels(self, mask: np.ndarray, sinks: np.ndarray) -> np.ndarray:
        """The fitted kernel rows [B, H, T, T] for these sequences."""
        assert self.choice is not None, "solve() first"
        batch, tokens = mask.shape
        sup = support(mask, self.causal)
        s = sink_rows(sup, sinks[:, None, :])
        has_sink = s.sum(axis=2, keepdims=True) > 0
        offsets = _offsets(np.arange(tokens), tokens)                                  # [T, T]
        out = np.empty((batch, self.heads, tokens, tokens), dtype=np.float32)
        for h, (v, width, w) in enumerate(self.choice):
            e = _gaussian_rows([(v, width)], offsets)[:, 0][None] * sup
            g = e / np.maximum(e.sum(axis=2, keepdims=True), _EPS)
            out[:, h] = np.where(has_sink, (1 - w) * g + w * s, g)
        return out

    def add_score(self, attn: np.ndarray, mask: np.ndarray, sinks: np.ndarray) -> None:
        sup = support(mask, self.causal)
        a = attn.astype(np.float32) * sup[:, None]
        kern = self.kernels(mask, sinks)
        uniform = sup / np.maximum(sup.sum(axis=2, keepdims=True), 1)
        rows = mask.astype(np.float64)[:, None, :]
        an = np.sqrt((a * a).sum(axis=3))
        cos_k = (a * kern).sum(axis=3) / np.maximum(an * np.sqrt((kern * kern).sum(axis=3)), _EPS)
        cos_u = (a * uniform[:, None]).sum(axis=3) / np.maximum(
            an * np.sqrt((uniform * uniform).sum(axis=2))[:, None], _EPS)
        ks = (cos_k * rows).sum(axis=(0, 2))
        us = (cos_u * rows).sum(axis=(0, 2))
        self.score_kernel_sum = ks if self.score_kernel_sum is None else self.score_kernel_sum + ks
        self.score_uniform_sum = us if self.score_uniform_sum is None else self.score_uniform_sum + us
        self.score_rows += int(mask.sum())
