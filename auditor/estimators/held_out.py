"""Held-out probe figures per probe: intervals over the held-out probes, and the task information the
last layer loses, debiased (bottleneck.information_plane; docs/METHODS.md, Uncertainty).

Inputs are what information.linear_probe keeps per held-out probe and layer: `correct` (1.0 where the
probe was right) and `nll` (-log2 p(true label), bits). Every figure is a function of their column
means and of the held-out labels, so a bootstrap over held-out probes recomputes it without refitting
the probe (the probe's own fitting noise is not in the interval; METHODS says so).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np


def per_probe(columns: list[np.ndarray | None], scored: int) -> np.ndarray | None:
    """[scored, layers] from one column per layer (NaN for a layer without one); None without any."""
    if not scored or all(c is None for c in columns):
        return None
    return np.stack([np.full(scored, np.nan) if c is None else np.asarray(c, dtype=np.float64)
                     for c in columns], axis=1)


def halves(count: int, seed: int) -> np.ndarray:
    """[count] 0/1: a seeded split of the held-out probes into two halves of (nearly) equal size."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0xD40F])
    out = np.zeros(count, dtype=np.int64)
    out[rng.permutation(count)[: count // 2]] = 1
    return out


def probe_bound(nll: np.ndarray, entropy: float) -> np.ndarray:
    """[layers] max(0, H(Y) - mean cross-entropy) in bits from per-probe nll [probes, layers]."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # a layer without a fitted probe stays NaN
        return np.maximum(0.0, entropy - np.nanmean(nll, axis=0))


def debiased_drop(nll: np.ndarray, half: np.ndarray, entropy: float) -> float:
    """Cross-fitted (peak bound - last layer's bound) / H(Y), in [-1, 1].

    The plain estimate max_l bound_l - bound_L takes the maximum of noisy values and so is biased
    upwards (on a model that loses nothing it is positive). Here the peak layer is chosen on one half
    of the held-out probes and the drop from it measured on the other half, both ways round, averaged:
    the noise that chose the layer is independent of the noise that measures it, so the estimate is
    unbiased for the drop at the chosen layer (at most the largest drop; the two differ only where
    layers nearly tie). It can be negative, as an unbiased estimate of zero must be.
    """
    if entropy <= 0.0 or nll.ndim != 2 or nll.shape[1] < 1:
        return math.nan
    drops = []
    for pick, measure in ((0, 1), (1, 0)):
        a, b = nll[half == pick], nll[half == measure]
        if not len(a) or not len(b):
            return math.nan
        bound_a, bound_b = probe_bound(a, entropy), probe_bound(b, entropy)
        if np.isnan(bound_a).all() or np.isnan(bound_b[-1]):
            return math.nan
        peak = int(np.nanargmax(bound_a))
        drops.append(bound_b[peak] - bound_b[-1])
    return float(np.mean(drops)) / entropy


def naive_drop(nll: np.ndarray, entropy: float) -> float:
    """(max_l bound_l - bound_L) / H(Y) on all held-out probes: the plain, upward-biased estimate."""
    bound = probe_bound(nll, entropy)
    if entropy <= 0.0 or np.isnan(bound[-1]):
        return math.nan
    return float(np.nanmax(bound) - bound[-1]) / entropy


def figures(r: Mapping[str, np.ndarray]) -> np.ndarray:
    """[4L+4 + 1]: probe_accuracy, probe_accuracy_over_chance, mi_ty_probe_bound (per layer) and the debiased
    task_information_drop, from per-probe arrays correct/nll [n, L+1], y (label codes), major (1.0 where
    the label is the fit split's commonest) and half (0/1); the bootstrap's statistic and the point value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        accuracy = np.nanmean(r["correct"], axis=0)
    chance = float(np.mean(r["major"]))
    over = (accuracy - chance) / (1.0 - chance) if chance < 1.0 else np.full_like(accuracy, np.nan)
    _, counts = np.unique(r["y"], return_counts=True)
    p = counts / counts.sum()
    entropy = max(0.0, float(-(p * np.log2(p)).sum()))
    bound = probe_bound(r["nll"], entropy)
    return np.concatenate([accuracy, over, bound, [debiased_drop(r["nll"], r["half"], entropy)]])
