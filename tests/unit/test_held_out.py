"""Held-out probe figures against values worked out by hand (estimators.held_out; docs/METHODS.md, Uncertainty).

Four held-out probes, two layers: accuracy, accuracy over chance, the cross-entropy bound and the
cross-fitted drop are each computed in the comments below, so a changed formula changes a number.
"""
import math
import warnings

import numpy as np
import pytest

from auditor.estimators.held_out import debiased_drop, figures, halves, naive_drop, per_probe

H = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))      # y = 0, 0, 0, 1: H(Y) = 0.8113 bits


def _probes() -> dict[str, np.ndarray]:
    return {"correct": np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
            "nll": np.array([[0.2, 0.6], [0.4, 1.0], [0.1, 0.9], [0.3, 0.7]]),
            "y": np.array([0, 0, 0, 1]), "major": np.array([1.0, 1.0, 0.0, 0.0]), "half": np.array([0, 1, 0, 1])}


def test_figures_by_hand():
    got = figures(_probes())
    accuracy = [0.75, 0.5]                                   # column means of `correct`
    over = [(0.75 - 0.5) / 0.5, 0.0]                         # chance = mean(major) = 0.5
    bound = [H - 0.25, max(0.0, H - 0.8)]                    # nll column means 0.25, 0.8
    # half 0 (probes 0, 2): nll means 0.15, 0.75 -> bounds H - 0.15, H - 0.75 (peak at layer 0)
    # half 1 (probes 1, 3): nll means 0.35, 0.85 -> bounds H - 0.35, 0 (H < 0.85; peak at layer 0)
    drop = ((H - 0.35 - 0.0) + ((H - 0.15) - (H - 0.75))) / 2 / H
    np.testing.assert_allclose(got, [*accuracy, *over, *bound, drop], rtol=1e-12, atol=1e-15)


def test_without_room_above_chance_the_excess_accuracy_is_undefined():
    r = _probes() | {"major": np.ones(4)}
    got = figures(r)
    assert np.isnan(got[2:4]).all()
    np.testing.assert_allclose(got[:2], [0.75, 0.5])


def test_a_layer_without_a_probe_stays_nan_without_a_warning():
    r = _probes()
    r = r | {"correct": np.c_[np.full(4, np.nan), r["correct"]], "nll": np.c_[np.full(4, np.nan), r["nll"]]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = figures(r)
    assert np.isnan(got[[0, 3, 6]]).all()
    np.testing.assert_allclose(got[[1, 2]], [0.75, 0.5])


def test_a_half_without_finite_cross_entropy_gives_no_drop():
    nll = np.array([[np.nan, np.nan], [0.2, 0.3], [np.nan, np.nan], [0.1, 0.5]])
    assert math.isnan(debiased_drop(nll, np.array([0, 1, 0, 1]), 1.0))


def test_the_naive_drop_skips_a_middle_layer_without_a_probe():
    nll = np.array([[0.2, np.nan, 0.9], [0.4, np.nan, 0.7]])          # bounds 0.7, nan, 0.2 at H = 1
    assert naive_drop(nll, 1.0) == pytest.approx(0.5, rel=1e-12)
    assert naive_drop(nll, 0.5) == pytest.approx((0.2 - 0.0) / 0.5, rel=1e-12)


def test_per_probe_stacks_the_columns_and_fills_a_missing_layer_with_nan():
    got = per_probe([np.array([1.0, 0.0, 1.0]), None, np.array([0.5, 0.25, 0.0])], 3)
    np.testing.assert_array_equal(got[:, 0], [1.0, 0.0, 1.0])
    assert np.isnan(got[:, 1]).all()
    np.testing.assert_array_equal(got[:, 2], [0.5, 0.25, 0.0])
    assert per_probe([None, None], 3) is None and per_probe([np.ones(2)], 0) is None


def test_halves_are_the_seeded_stream_split_in_two_integer_halves():
    # the stream [seed, 0xD40F] is part of the contract: a stored audit's intervals recompute the same
    got = halves(9, 12345)
    expected = np.zeros(9, dtype=np.int64)
    expected[np.random.default_rng([12345, 0xD40F]).permutation(9)[:4]] = 1
    assert got.dtype.kind == "i"
    np.testing.assert_array_equal(got, expected)
    assert int(got.sum()) == 4
