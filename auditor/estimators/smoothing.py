"""Over-smoothing statistics of token representations, per sequence (docs/METHODS.md, flow.smoothing).

All functions take a batch x [B, T, d] and a boolean `content` mask [B, T] of the tokens that
count, and return one value per sequence (NaN where a sequence has too few content tokens).
"""
from __future__ import annotations

import numpy as np

from auditor.estimators.laplacian import neighbour_pairs_energy, neighbour_pairs_energy_from_norms

_EPS = 1e-12


def token_similarity(x: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Mean pairwise cosine among distinct content tokens: ( ||sum u||^2 - n ) / (n (n - 1))."""
    m = content.astype(x.dtype)[:, :, None]
    unit = x / np.maximum(np.linalg.norm(x, axis=2, keepdims=True), _EPS) * m
    n = content.sum(axis=1).astype(np.float64)
    total = (unit.sum(axis=1) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= 2, (total - n) / (n * (n - 1)), np.nan)


def rank_collapse_residual(x: np.ndarray, content: np.ndarray) -> np.ndarray:
    """||X - 1 mean(X)^T||_F / ||X||_F over the content tokens (Dong et al. 2021); 0 = all tokens equal."""
    m = content.astype(x.dtype)[:, :, None]
    n = np.maximum(content.sum(axis=1), 1)[:, None]
    mean = (x * m).sum(axis=1) / n
    resid = np.sqrt((((x - mean[:, None, :]) * m) ** 2).sum(axis=(1, 2)))
    norm = np.sqrt(((x * m) ** 2).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((content.sum(axis=1) >= 2) & (norm > _EPS), resid / norm, np.nan)


def dirichlet_energy(x: np.ndarray, content: np.ndarray, grid: tuple[int, int] | None = None,
                     prefix: int = 0) -> np.ndarray:
    """sum over neighbouring content tokens ||x_a - x_b||^2 / sum ||x_i||^2 (token chain, or patch grid)."""
    m = content.astype(x.dtype)[:, :, None]
    norm2 = ((x * m) ** 2).sum(axis=(1, 2))
    energy = neighbour_pairs_energy(x, content, grid, prefix)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((content.sum(axis=1) >= 2) & (norm2 > _EPS), energy / norm2, np.nan)


def figures(x: np.ndarray, content: np.ndarray, grid: tuple[int, int] | None = None,
            prefix: int = 0) -> dict[str, np.ndarray]:
    """The three figures above for one batch at once, from shared per-token work (what the accumulator uses).

    Per token: |x_i|^2 and the neighbour dot products in x's precision; per sequence: the sum of unit
    vectors and of vectors (one small matrix product each), combined in float64:
    ||X - 1 mean^T||_F^2 = sum |x_i|^2 - |sum x_i|^2 / n and ||x_a - x_b||^2 = |x_a|^2 + |x_b|^2 - 2 x_a.x_b.
    """
    c = content.astype(bool)
    w = c.astype(x.dtype)
    n = c.sum(axis=1).astype(np.float64)
    norms = np.einsum("btd,btd->bt", x, x)                                         # |x_i|^2
    norm2 = (norms * w).sum(axis=1, dtype=np.float64)
    unit_sum = np.matmul((w / np.maximum(np.sqrt(norms), _EPS))[:, None, :], x)[:, 0].astype(np.float64)
    token_sum = np.matmul(w[:, None, :], x)[:, 0].astype(np.float64)
    resid2 = np.maximum(norm2 - (token_sum ** 2).sum(axis=1) / np.maximum(n, 1), 0.0)
    energy = neighbour_pairs_energy_from_norms(x, norms, c, grid, prefix)
    enough = n >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"token_similarity": np.where(enough, ((unit_sum ** 2).sum(axis=1) - n) / (n * (n - 1)), np.nan),
                "rank_collapse_residual": np.where(enough & (np.sqrt(norm2) > _EPS), np.sqrt(resid2 / norm2), np.nan),
                "dirichlet_energy": np.where(enough & (norm2 > _EPS), energy / norm2, np.nan)}
