"""Known answers for the probe bootstrap (auditor/estimators/bootstrap.py, METHODS: Uncertainty)."""
import math

import numpy as np
import pytest

from auditor.estimators import bootstrap as boot


def _normals(n: int = 400, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc=3.0, scale=2.0, size=n)


def test_interval_of_a_mean_has_the_normal_width_and_centre():
    # the bootstrap of a mean of N values estimates its standard error s / sqrt(N): the 95% interval is
    # 2 x 1.96 s / sqrt(N) wide around the sample mean; B = 4000 keeps the percentiles' own noise near 1%
    values = _normals()
    se = values.std() / math.sqrt(len(values))
    low, high = boot.mean_interval(values, seed=1, rounds=4000)
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.03)
    assert (low + high) / 2 == pytest.approx(values.mean(), abs=0.05 * se)
    low50, high50 = boot.mean_interval(values, seed=1, rounds=4000, level=0.5)
    assert high50 - low50 == pytest.approx(2 * 0.6745 * se, rel=0.03)


def test_default_rounds_and_level():
    assert boot.ROUNDS >= 200 and boot.LEVEL == 0.95
    values = _normals(50)
    assert boot.mean_interval(values, seed=0) == boot.mean_interval(values, seed=0, rounds=boot.ROUNDS, level=0.95)


def test_seeded_intervals_repeat_and_seeds_differ():
    values = _normals(100)
    assert boot.mean_interval(values, seed=5) == boot.mean_interval(values, seed=5)
    assert boot.mean_interval(values, seed=5) != boot.mean_interval(values, seed=6)
    draws = boot.resample_indices(7, seed=3, rounds=11)
    assert draws.shape == (11, 7) and draws.min() >= 0 and draws.max() <= 6
    np.testing.assert_array_equal(draws, boot.resample_indices(7, seed=3, rounds=11))
    np.testing.assert_array_equal(boot.resample_indices(7, seed=-1, rounds=3),
                                  boot.resample_indices(7, seed=0xFFFFFFFF, rounds=3))
    # every probe is drawn with replacement: some appear twice in a round of 50
    assert any(len(set(row)) < 50 for row in boot.resample_indices(50, seed=0, rounds=5))
    with pytest.raises(ValueError):
        boot.resample_indices(0, seed=0)


def test_interval_resamples_whole_probes_and_applies_the_statistic():
    # two columns per probe resampled together: their difference is the same in every resample
    x = _normals(60)
    low, high = boot.interval({"a": x, "b": x - 1.5}, lambda r: r["a"].mean() - r["b"].mean(), seed=2)
    assert low == pytest.approx(1.5, abs=1e-12) and high == pytest.approx(1.5, abs=1e-12)
    with pytest.raises(ValueError):
        boot.interval({"a": x, "b": x[:10]}, lambda r: 0.0, seed=0)
    # a statistic per layer gives bounds per layer, here exactly the min and max possible for constant columns
    per_layer = np.tile([1.0, 2.0, 3.0], (40, 1))
    low, high = boot.interval({"v": per_layer}, lambda r: r["v"].mean(axis=0), seed=0)
    np.testing.assert_allclose(low, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(high, [1.0, 2.0, 3.0])


def test_nan_resamples_are_ignored_per_entry_and_all_nan_gives_nan():
    values = np.array([0.0, 1.0, 2.0, 3.0])

    def statistic(r):
        m = r["v"].mean()
        return np.array([m if m < 2.0 else np.nan, np.nan, m])

    low, high = boot.interval({"v": values}, statistic, seed=0, rounds=500)
    assert low[0] == pytest.approx(low[2]) and high[0] < 2.0 <= high[2]
    assert np.isnan(low[1]) and np.isnan(high[1])


def test_nan_values_are_dropped_before_the_mean():
    values = _normals(200)
    with_nan = np.concatenate([values, [np.nan, np.inf]])
    assert boot.mean_interval(with_nan, seed=4) == boot.mean_interval(values, seed=4)


def test_ratio_interval_is_per_column_and_exact_for_proportional_probes():
    rng = np.random.default_rng(8)
    denominator = rng.uniform(1.0, 5.0, size=(80, 2))
    numerator = denominator * np.array([0.25, 4.0])            # every probe has the same ratio per column
    low, high = boot.ratio_interval(numerator, denominator, seed=0)
    np.testing.assert_allclose(low, [0.25, 4.0], rtol=1e-12)
    np.testing.assert_allclose(high, [0.25, 4.0], rtol=1e-12)
    # sum over probes, not mean of per-probe ratios: a ratio of means with a known large-sample width
    num = rng.normal(2.0, 1.0, 500)
    den = np.ones(500)
    low, high = boot.ratio_interval(num, den, seed=0, rounds=4000)
    se = num.std() / math.sqrt(500)
    assert float(high - low) == pytest.approx(2 * 1.96 * se, rel=0.03)
    assert float((low + high) / 2) == pytest.approx(num.mean(), abs=0.05 * se)
