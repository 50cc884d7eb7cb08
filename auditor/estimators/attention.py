"""Attention maths: entropy, distance and sink share per head, attention rollout, rank correlation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-12


@dataclass
class HeadStats:
    """Per-sample, per-head figures of one layer's attention [B, H] (NaN where undefined)."""

    entropy: np.ndarray      # mean over query rows of H(row) / log(allowed keys); 1 = uniform, 0 = one token
    distance: np.ndarray     # mean attended distance (tokens; patch-grid units for images)
    sink: np.ndarray         # mean attention mass on special tokens or the first token


def is_causal(attn: np.ndarray, mask: np.ndarray) -> bool:
    """True when no valid query row puts mass above the diagonal (a causal model's maps)."""
    tokens = attn.shape[-1]
    upper = np.triu(np.ones((tokens, tokens), dtype=bool), k=1)
    rows = mask[:, None, :, None] & mask[:, None, None, :] & upper
    return bool(np.all(np.where(rows, attn, 0.0) < 1e-6))


def head_stats(attn: np.ndarray, mask: np.ndarray, sink_tokens: np.ndarray | None = None, *,
               causal: bool | None = None, grid: tuple[int, int] | None = None, prefix: int = 0) -> HeadStats:
    """Entropy, distance and sink share per sample and head for attention maps [B, H, T, T]."""
    a = attn.astype(np.float32, copy=False)   # probabilities: float32 sums over a row are exact enough
    size, _heads, tokens, _ = a.shape
    mask = mask[:, :tokens].astype(bool)
    if causal is None:
        causal = is_causal(attn, mask)
    allowed = mask[:, None, :] & mask[:, :, None]                                # [B, Tq, Tk]
    if causal:
        allowed &= np.tril(np.ones((tokens, tokens), dtype=bool))[None]
    n_allowed = allowed.sum(axis=2)                                              # [B, Tq]
    plogp = np.where(allowed[:, None] & (a > 0), a * np.log(np.maximum(a, 1e-30)), 0.0).sum(axis=3, dtype=np.float64)
    norm = np.log(np.maximum(n_allowed, 2))[:, None, :]
    rows = (mask & (n_allowed >= 2))[:, None, :]                                  # query rows with a choice
    entropy = _row_mean(-plogp / norm, rows)

    sinks = np.zeros((size, tokens), dtype=bool)
    sinks[:, 0] = True
    if sink_tokens is not None:
        sinks |= sink_tokens[:, :tokens].astype(bool)
    sink = _row_mean((a * sinks[:, None, None, :]).sum(axis=3, dtype=np.float64), mask[:, None, :])

    dist, query_rows = _distances(tokens, grid, prefix)
    if query_rows is None:
        distance = _row_mean((a * dist[None, None].astype(np.float32)).sum(axis=3, dtype=np.float64), mask[:, None, :])
    else:   # patch queries, attention on patch keys renormalised (the class token has no place on the grid)
        on_grid = a[..., prefix:]
        weight = np.maximum(on_grid.sum(axis=3), _EPS)
        per_row = (on_grid * dist[None, None]).sum(axis=3) / weight
        rows_ok = mask[:, None, :] & query_rows[None, None, :]
        distance = _row_mean(per_row, rows_ok)
    return HeadStats(entropy=entropy, distance=distance, sink=sink)


def _distances(tokens: int, grid: tuple[int, int] | None, prefix: int) -> tuple[np.ndarray, np.ndarray | None]:
    """|i - j| between tokens, or Euclidean patch distance [T, T - prefix] with the patch query rows."""
    if grid is None or grid[0] * grid[1] + prefix != tokens:
        pos = np.arange(tokens)
        return np.abs(pos[:, None] - pos[None, :]).astype(np.float64), None
    rows, cols = np.divmod(np.arange(grid[0] * grid[1]), grid[1])
    patch = np.hypot(rows[:, None] - rows[None, :], cols[:, None] - cols[None, :])
    dist = np.zeros((tokens, grid[0] * grid[1]))
    dist[prefix:] = patch
    query_rows = np.zeros(tokens, dtype=bool)
    query_rows[prefix:] = True
    return dist, query_rows


def _row_mean(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean over the query axis (last) of values [B, H, Tq] where rows [B, 1|H, Tq] is True."""
    rows = np.broadcast_to(rows, values.shape)
    count = rows.sum(axis=2)
    total = np.where(rows, values, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def rollout(attentions: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020): prod_l (0.5 mean_h A_l + 0.5 I), rows renormalised. [B, T, T]"""
    size, _, tokens, _ = attentions[0].shape
    eye = np.eye(tokens)[None]
    result = np.broadcast_to(eye, (size, tokens, tokens)).copy()
    for attn in attentions:
        mixed = 0.5 * attn.astype(np.float64).mean(axis=1) + 0.5 * eye
        mixed /= np.maximum(mixed.sum(axis=2, keepdims=True), _EPS)
        result = mixed @ result
    return result * mask[:, None, :tokens]


def input_relevance(rolled: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    """[B, T] relevance of each input token for the pooled output, summing to 1 over valid tokens."""
    if pooling == "cls":
        rel = rolled[:, 0]
    elif pooling == "last":
        last = np.maximum(mask.sum(axis=1) - 1, 0)
        rel = rolled[np.arange(rolled.shape[0]), last]
    else:
        weights = mask[:, :, None].astype(np.float64)
        rel = (rolled * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
    rel = rel * mask
    return rel / np.maximum(rel.sum(axis=1, keepdims=True), _EPS)


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman rank correlation of two equally shaped arrays (NaN entries dropped); None if undefined."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3:
        return None
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(values.size)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def output_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[B] cosine between matching rows of a and b [B, d], in float64.

    Written as a.b / sqrt(|a|^2 |b|^2): for identical rows the numerator equals |a|^2 bit for bit and the
    square root of a correctly rounded square is exact, so an unchanged output has cosine exactly 1.
    Two zero rows count as unchanged (1), one zero row against a non-zero one as orthogonal (0).
    """
    x = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    y = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    dot = (x * y).sum(axis=1)
    denom = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    same = np.all(x == y, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, dot / np.where(denom > 0, denom, 1.0), np.where(same, 1.0, 0.0))


def ablation_effect(clean: np.ndarray, masked: np.ndarray, clean_pred: np.ndarray | None,
                    masked_pred: np.ndarray | None) -> tuple[float, float | None]:
    """(mean output cosine, share of changed predictions or None) of masked against unmasked outputs."""
    cos = float(output_cosine(clean, masked).mean())
    if clean_pred is None or masked_pred is None:
        return cos, None
    return cos, float(np.mean(np.asarray(clean_pred) != np.asarray(masked_pred)))


def little_effect(cos: float, flip_rate: float | None, min_cos: float, max_flip_rate: float) -> bool:
    """The rule under which 'little effect' may be said: cosine >= min_cos and (where the model predicts)
    at most max_flip_rate of predictions changed."""
    return cos >= min_cos and (flip_rate is None or flip_rate <= max_flip_rate)
