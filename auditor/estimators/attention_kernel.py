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
_EPS = 1e-12
_NEGLIGIBLE = 1e-30     # a normalised kernel weight below this adds nothing a float can hold beside the row's peak


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


def _select_rows(mask: np.ndarray, per_sequence: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(sequence, query) pairs: up to `per_sequence` seeded random valid queries of each sequence."""
    seqs, queries = [], []
    for b, row in enumerate(mask):
        valid = np.flatnonzero(row)
        pick = valid if len(valid) <= per_sequence else np.sort(rng.choice(valid, per_sequence, replace=False))
        seqs.append(np.full(len(pick), b))
        queries.append(pick)
    return np.concatenate(seqs), np.concatenate(queries)


def _offset_table(cands: list[tuple[float, float]], tokens: int) -> np.ndarray:
    """Unnormalised kernels by key offset: [2T - 1, C], row o + T - 1 for the offset j - i = o."""
    offsets = np.arange(-(tokens - 1), tokens, dtype=np.float64)
    out = np.empty((len(offsets), len(cands)), dtype=np.float32)
    for c, (v, s) in enumerate(cands):
        out[:, c] = 1.0 if np.isinf(s) else np.exp(-((offsets - v) ** 2) / (2.0 * s * s))
    return out


def _row_support(mask: np.ndarray, seq: np.ndarray, query: np.ndarray, causal: bool) -> np.ndarray:
    """support(mask, causal)[seq, query] without building the [B, T, T] array: [R, T]."""
    sup = mask[seq] & mask[seq, query][:, None]
    if causal:
        sup = sup & (np.arange(mask.shape[1])[None, :] <= query[:, None])
    return sup


_ROW_BUDGET = 1 << 22          # floats in one [R, T, C] block of candidate kernels (16 MiB)


def add_fit_layers(fits: list[KernelFit], attns: list[np.ndarray], mask: np.ndarray, sinks: np.ndarray) -> None:
    """`KernelFit.add_fit` for several layers of one batch at once (the same rows, one set of kernels).

    Every layer's KernelFit draws the same seeded rows (same seed, same batches), so the rows are drawn
    once and the attention rows of all layers and heads go through the same small matrix products.
    """
    first = fits[0]
    assert all(f.seed == first.seed and f.rows_per_sequence == first.rows_per_sequence and f.causal == first.causal
               and f.cands == first.cands for f in fits), "layers must share the row sample"
    mask = mask.astype(bool)
    rng = first._generator()
    for f in fits[1:]:          # keep each layer's generator in step, as if it had drawn the rows itself
        f._rng = rng
    seq, query = _select_rows(mask, first.rows_per_sequence, rng)
    tokens = mask.shape[1]
    sup = _row_support(mask, seq, query, first.causal)                                  # [R, T]
    a = np.concatenate([attn[seq, :, query].astype(np.float32, copy=False) for attn in attns], axis=1)
    a *= sup[:, None]                                                                     # [R, L*H, T]
    s = sink_rows(sup, sinks[seq])                                                       # [R, T]
    table = first._table(tokens)
    index = np.arange(tokens)[None, :] - query[:, None] + tokens - 1                      # [R, T]
    total = np.zeros((a.shape[1], len(first.cands), len(SINK_WEIGHTS)))
    step = max(1, min(len(first.cands), _ROW_BUDGET // max(sup.size, 1)))
    for start in range(0, len(first.cands), step):
        e = table[index, start:start + step] * sup[:, :, None]                           # [R, T, C]
        e /= np.maximum(e.sum(axis=1, keepdims=True), _EPS)
        e[e < _NEGLIGIBLE] = 0.0        # subnormal floats make the products below several times slower
        total[:, start:start + step] = _cosine_sums(a, e, s)
    heads = first.heads
    for layer, fit in enumerate(fits):
        part = total[layer * heads:(layer + 1) * heads]
        fit.fit_sum = part.copy() if fit.fit_sum is None else fit.fit_sum + part
        fit.fit_rows += len(seq)


def _cosine_sums(a: np.ndarray, gt: np.ndarray, s: np.ndarray) -> np.ndarray:
    """sum over rows of cos(a, (1-w) g + w s), for every head, candidate and sink weight.

    a [R,H,T] attention rows, gt [R,T,C] candidate kernel rows (key-major), s [R,T] sink rows -> [H, C, W].
    The cosine's numerator is linear in w and the kernel norm does not depend on the head, so it
    all reduces to small matrix products (no [R,H,C,W] array).
    """
    weight = 1.0 / np.maximum(np.sqrt(np.einsum("rht,rht->rh", a, a)), _EPS)  # [R, H] = 1 / |a|
    ag = np.matmul(a, gt)                                                     # [R, H, C]
    ag *= weight[:, :, None]
    gg = np.einsum("rtc,rtc->rc", gt, gt)                                     # [R, C]
    gs = np.matmul(s[:, None, :], gt)[:, 0]                                   # [R, C]
    as_ = np.matmul(a, s[:, :, None])[:, :, 0] * weight                       # [R, H]
    ss = (s * s).sum(axis=1)                                                  # [R]
    # no reachable sink: the sink weight means nothing, so every w is the plain Gaussian
    w = np.where(ss[:, None] > 0, SINK_WEIGHTS[None, :], 0.0).astype(np.float32)   # [R, W]
    knorm2 = ((1 - w) ** 2)[:, None, :] * gg[:, :, None] + (2 * w * (1 - w))[:, None, :] * gs[:, :, None] \
        + (w ** 2 * ss[:, None])[:, None, :]                                  # [R, C, W]
    inv_k = 1.0 / np.maximum(np.sqrt(np.maximum(knorm2, 0.0)), np.float32(_EPS))
    # sum_r ag*weight*(1-w)*inv_k  +  sum_r as*weight*w*inv_k, batched over candidates (float32 within a
    # batch, float64 across batches)
    x1 = np.matmul(ag.transpose(2, 1, 0), ((1 - w)[:, None, :] * inv_k).transpose(1, 0, 2))   # [C, H, W]
    x2 = (as_.T @ (w[:, None, :] * inv_k).reshape(len(w), -1)).reshape(a.shape[1], *inv_k.shape[1:])
    return x1.transpose(1, 0, 2) + x2


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

    def _generator(self) -> np.random.Generator:
        if not hasattr(self, "_rng"):
            self._rng = np.random.default_rng([self.seed, 4242])
        return self._rng

    def _table(self, tokens: int) -> np.ndarray:
        """The candidates' unnormalised kernels by key offset for sequences of `tokens` tokens (cached)."""
        tables = self.__dict__.setdefault("_tables", {})
        if tokens not in tables:
            tables[tokens] = _offset_table(self.cands, tokens)
        return tables[tokens]

    def add_fit(self, attn: np.ndarray, mask: np.ndarray, sinks: np.ndarray) -> None:
        """attn [B, H, T, T] probabilities of fit-split sequences (a seeded sample of their rows)."""
        add_fit_layers([self], [attn], mask, sinks)

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

    def _head_kernels(self, tokens: int) -> np.ndarray:
        """The chosen heads' unnormalised Gaussians [H, T, T] in float64 (cached per length).

        float64: a row's peak over its support can be as small as exp(-6^2 / (2 * 0.5^2)) ~ 5e-32, whose
        square a float32 cannot hold.
        """
        assert self.choice is not None, "solve() first"
        cache = self.__dict__.setdefault("_head_tables", {})
        if tokens not in cache:
            # a kernel depends on j - i only, so a shorter length's table is the top-left block of a longer one
            # (the same numbers): build once for the longest length seen so far and copy blocks out of it
            longest = max(cache.get("longest", np.empty((0, 0, 0))).shape[1], tokens)
            if longest not in cache:
                offsets = _offsets(np.arange(longest), longest).astype(np.float64)
                cache[longest] = cache["longest"] = np.stack(
                    [np.ones_like(offsets) if np.isinf(width) else np.exp(-((offsets - v) ** 2) / (2.0 * width * width))
                     for v, width, _ in self.choice])
            cache[tokens] = np.ascontiguousarray(cache["longest"][:, :tokens, :tokens])
        return cache[tokens]

    def add_score(self, attn: np.ndarray, mask: np.ndarray, sinks: np.ndarray) -> None:
        """Held-out rows: the cosine of each valid attention row with its fitted kernel and with uniform attention.

        The same figures as comparing `a` with `kernels()` row by row, from a few contractions: with
        g = e / Z (e the Gaussian on the row's support) and k = (1 - w) g + w s,
        a.k = (1 - w) a.e / Z + w a.s and |k|^2 = (1 - w)^2 e.e / Z^2 + 2 w (1 - w) e.s / Z + w^2 s.s.
        """
        assert self.choice is not None, "solve() first"
        mask = mask.astype(bool)
        tokens = mask.shape[1]
        sup = support(mask, self.causal)                                               # [B, T, T]
        a = np.multiply(attn, sup[:, None], dtype=np.float32)                           # [B, H, T, T]
        e = self._head_kernels(tokens)                                                 # [H, T, T]
        s = sink_rows(sup, sinks[:, None, :])                                          # [B, T, T]
        # row contractions over keys j, batched over queries i: [T, B, T] @ [T, T, H] -> [T, B, H]
        by_query = sup.astype(np.float64).transpose(1, 0, 2)
        z = np.matmul(by_query, e.transpose(1, 2, 0)).transpose(1, 2, 0)               # [B, H, T]
        ee = np.matmul(by_query, (e * e).transpose(1, 2, 0)).transpose(1, 2, 0)
        es = np.matmul(s.astype(np.float64).transpose(1, 0, 2), e.transpose(1, 2, 0)).transpose(1, 2, 0)
        ae = np.einsum("bhij,hij->bhi", a.astype(np.float64), e)
        ss = (s * s).sum(axis=2)[:, None, :]                                           # [B, 1, T]
        as_ = np.einsum("bhij,bij->bhi", a, s)
        aa = np.einsum("bhij,bhij->bhi", a, a)
        asum = a.sum(axis=3)
        w = np.array([c[2] for c in self.choice], dtype=np.float64)[None, :, None]     # [1, H, 1]
        w = np.where(ss > 0, w, 0.0)                                                   # no reachable sink: plain g
        zc = np.maximum(z, _EPS)
        dot = (1 - w) * ae / zc + w * as_
        knorm2 = (1 - w) ** 2 * ee / zc ** 2 + 2 * w * (1 - w) * es / zc + w ** 2 * ss
        an = np.sqrt(aa)
        cos_k = dot / np.maximum(an * np.sqrt(np.maximum(knorm2, 0.0)), _EPS)
        count = sup.sum(axis=2)[:, None, :]                                            # [B, 1, T]
        inv = 1.0 / np.maximum(count, 1)
        cos_u = asum * inv / np.maximum(an * np.sqrt(count * inv * inv), _EPS)
        rows = mask.astype(np.float64)[:, None, :]
        ks = (cos_k * rows).sum(axis=(0, 2))
        us = (cos_u * rows).sum(axis=(0, 2))
        self.score_kernel_sum = ks if self.score_kernel_sum is None else self.score_kernel_sum + ks
        self.score_uniform_sum = us if self.score_uniform_sum is None else self.score_uniform_sum + us
        self.score_rows += int(mask.sum())
