"""Discrete Laplacians along the token axis (chain) or the patch grid, over valid tokens only.

Neumann (reflecting) ends: a token's Laplacian sums (neighbour - token) over the neighbours that
exist and are valid, so padding never leaks in and the ends have one neighbour.
"""
from __future__ import annotations

import numpy as np


def chain_laplacian(h: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Lap(h) [B, T, d] along the token axis; zero on padding."""
    m = mask.astype(h.dtype)
    pair = (m[:, 1:] * m[:, :-1])[:, :, None]          # both ends of each edge valid
    diff = np.subtract(h[:, 1:], h[:, :-1])             # x_{i+1} - x_i ...
    diff *= pair                                        # ... on valid edges
    lap = np.empty_like(h)
    lap[:, :-1] = diff                                  # token i gains (x_{i+1} - x_i)
    lap[:, -1] = 0
    lap[:, 1:] -= diff                                  # token i+1 gains (x_i - x_{i+1})
    return lap


def grid_laplacian(h: np.ndarray, grid: tuple[int, int], prefix: int) -> np.ndarray:
    """Lap(h) over a rows x cols patch grid that follows `prefix` class tokens (which get 0)."""
    rows, cols = grid
    lap = np.zeros_like(h)
    patches = h[:, prefix:prefix + rows * cols].reshape(h.shape[0], rows, cols, h.shape[2])
    out = np.zeros_like(patches)
    dv = patches[:, 1:] - patches[:, :-1]
    out[:, :-1] += dv
    out[:, 1:] -= dv
    dh = patches[:, :, 1:] - patches[:, :, :-1]
    out[:, :, :-1] += dh
    out[:, :, 1:] -= dh
    lap[:, prefix:prefix + rows * cols] = out.reshape(h.shape[0], rows * cols, h.shape[2])
    return lap


def laplacian(h: np.ndarray, mask: np.ndarray, grid: tuple[int, int] | None, prefix: int) -> np.ndarray:
    return chain_laplacian(h, mask) if grid is None else grid_laplacian(h, grid, prefix)


def neighbour_pairs_energy(x: np.ndarray, content: np.ndarray, grid: tuple[int, int] | None,
                           prefix: int) -> np.ndarray:
    """Per sequence: sum of ||x_a - x_b||^2 over neighbouring content tokens [B]."""
    if grid is None:
        pair = content[:, 1:] & content[:, :-1]
        return (((x[:, 1:] - x[:, :-1]) ** 2).sum(axis=2) * pair).sum(axis=1)
    rows, cols = grid
    p = x[:, prefix:prefix + rows * cols].reshape(x.shape[0], rows, cols, x.shape[2])
    c = content[:, prefix:prefix + rows * cols].reshape(x.shape[0], rows, cols)
    vertical = (((p[:, 1:] - p[:, :-1]) ** 2).sum(axis=3) * (c[:, 1:] & c[:, :-1])).sum(axis=(1, 2))
    horizontal = (((p[:, :, 1:] - p[:, :, :-1]) ** 2).sum(axis=3) * (c[:, :, 1:] & c[:, :, :-1])).sum(axis=(1, 2))
    return vertical + horizontal


def neighbour_pairs_energy_from_norms(x: np.ndarray, norms: np.ndarray, content: np.ndarray,
                                      grid: tuple[int, int] | None, prefix: int) -> np.ndarray:
    """`neighbour_pairs_energy` from the token norms |x_i|^2 [B, T] and one pass of neighbour dot products:
    ||x_a - x_b||^2 = |x_a|^2 + |x_b|^2 - 2 x_a.x_b (per pair in x's precision, summed in float64)."""
    def pairs(a: np.ndarray, b: np.ndarray, na: np.ndarray, nb: np.ndarray, both: np.ndarray) -> np.ndarray:
        energy = na + nb - 2 * np.einsum("...d,...d->...", a, b)
        return np.where(both, energy, 0).reshape(energy.shape[0], -1).sum(axis=1, dtype=np.float64)

    if grid is None:
        return pairs(x[:, 1:], x[:, :-1], norms[:, 1:], norms[:, :-1], content[:, 1:] & content[:, :-1])
    rows, cols = grid
    span = slice(prefix, prefix + rows * cols)
    p = x[:, span].reshape(x.shape[0], rows, cols, x.shape[2])
    r = norms[:, span].reshape(x.shape[0], rows, cols)
    c = content[:, span].reshape(x.shape[0], rows, cols)
    return pairs(p[:, 1:], p[:, :-1], r[:, 1:], r[:, :-1], c[:, 1:] & c[:, :-1]) + \
        pairs(p[:, :, 1:], p[:, :, :-1], r[:, :, 1:], r[:, :, :-1], c[:, :, 1:] & c[:, :, :-1])
