"""Percentile bootstrap over probes: the interval beside a thresholded figure.

The resampling unit is the probe (docs/METHODS.md, Uncertainty): perturbed copies, tokens or layers of
one probe are not independent, so a check keeps per-probe statistics during its run (sums, counts,
squared errors: whatever its figure is a function of) and the figure is recomputed on B resamples
of the probes, with replacement. No extra forward pass is needed. Seeded: the same audit gives the
same interval.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

import numpy as np

ROUNDS = 200          # B; METHODS asks for at least 200
LEVEL = 0.95


def resample_indices(count: int, seed: int, rounds: int = ROUNDS) -> np.ndarray:
    """[rounds, count] probe indices drawn with replacement, from a seeded stream of their own."""
    if count <= 0:
        raise ValueError("the bootstrap needs at least one probe")
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0xB007])
    return rng.integers(0, count, size=(rounds, count))


def interval(per_probe: Mapping[str, np.ndarray], statistic: Callable[[Mapping[str, np.ndarray]], np.ndarray | float],
             *, seed: int, rounds: int = ROUNDS, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) percentile interval of `statistic` over probe resamples.

    `per_probe` maps names to arrays whose first axis is the probe (all the same length);
    `statistic` receives the same mapping with the probes resampled and returns a number or an
    array (e.g. one value per layer). NaN results of a resample are ignored per entry; an entry
    that is NaN in every resample gives NaN bounds.
    """
    arrays = {name: np.asarray(values) for name, values in per_probe.items()}
    counts = {a.shape[0] for a in arrays.values()}
    if len(counts) != 1:
        raise ValueError(f"per-probe arrays differ in length: {sorted(counts)}")
    draws = resample_indices(counts.pop(), seed, rounds)
    values = np.stack([np.asarray(statistic({n: a[idx] for n, a in arrays.items()}), dtype=np.float64)
                       for idx in draws])
    tail = 100 * (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # an all-NaN entry gives NaN bounds, as documented
        low = np.nanpercentile(values, tail, axis=0)
        high = np.nanpercentile(values, 100 - tail, axis=0)
    return low, high


def mean_interval(values: np.ndarray, *, seed: int, rounds: int = ROUNDS, level: float = LEVEL) -> tuple[float, float]:
    """Interval of the mean of one value per probe (NaN entries dropped first)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    low, high = interval({"v": values}, lambda r: float(np.mean(r["v"])), seed=seed, rounds=rounds, level=level)
    return float(low), float(high)


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray, *, seed: int, rounds: int = ROUNDS,
                   level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Interval of sum(numerator)/sum(denominator) over probes (per column when 2-D: e.g. [probe, layer])."""
    def ratio(r: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return r["n"].sum(axis=0) / r["d"].sum(axis=0)

    return interval({"n": numerator, "d": denominator}, ratio, seed=seed, rounds=rounds, level=level)
