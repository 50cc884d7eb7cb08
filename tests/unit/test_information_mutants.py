"""Information-plane and smoothing details against values built here (`make mutation` survivors;
docs/METHODS.md, bottleneck.information_plane; docs/METHODS.md, flow.smoothing).

The held-out probe's per-probe outputs against its own summary figures, its degenerate splits,
the PCA cap k, the median-heuristic bandwidth against a sort by hand, the plane's per-layer callback
and per-probe arrays, and the smoothing figures of a two-token sequence worked out by hand.
"""
import math

import numpy as np
import pytest

from auditor.estimators import information as info
from auditor.estimators import smoothing


def _two_classes(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    z = rng.normal(size=(n, 4)) + 1.5 * (2 * y[:, None] - 1) * [1.0, 0.0, 0.0, 0.0]
    return z, y


def test_the_probe_keeps_one_nll_and_one_hit_per_scored_probe():
    z, y = _two_classes()
    fit, score = np.arange(0, 60, 2).tolist() + [1, 3, 5], np.arange(7, 60, 2)
    r = info.linear_probe(z, y, np.array(fit), score)
    assert r.nll.shape == r.correct.shape == (len(score),)
    assert float(r.nll.mean()) == pytest.approx(r.cross_entropy, rel=1e-12)
    assert float(r.correct.mean()) == pytest.approx(r.accuracy, rel=1e-12)
    # two classes: the probe is right exactly where p(true label) > 1/2, i.e. nll < 1 bit
    np.testing.assert_array_equal(r.nll < 1.0, r.correct == 1.0)


def test_a_probe_without_scored_probes_has_zero_entropy_and_chance():
    r = info.linear_probe(np.zeros((4, 2)), np.array([0, 1, 0, 1]), np.arange(4), np.array([], dtype=int))
    assert (r.accuracy, r.label_entropy, r.chance) == (None, 0.0, 0.0)


def test_without_fit_probes_chance_is_that_of_the_first_label():
    r = info.linear_probe(np.zeros((3, 2)), np.array([0, 0, 1]), np.array([], dtype=int), np.arange(3))
    assert r.accuracy is None
    assert r.chance == pytest.approx(2 / 3)


def test_two_fit_probes_of_two_classes_are_enough_for_a_probe():
    z = np.array([[-2.0, 0.1], [2.0, -0.1], [-1.5, 0.0], [1.5, 0.2]])
    r = info.linear_probe(z, np.array([0, 1, 0, 1]), np.array([0, 1]), np.array([2, 3]))
    assert r.accuracy == 1.0


def test_the_probe_sees_only_the_top_k_principal_directions():
    # the label lives on a low-variance axis: with k = 1 the probe sees only the loud axis
    rng = np.random.default_rng(1)
    y = np.arange(200) % 2
    z = np.c_[rng.normal(size=200) * 10.0, (2 * y - 1) * 1.0 + rng.normal(size=200) * 0.05]
    fit, score = np.arange(100), np.arange(100, 200)
    assert info.linear_probe(z, y, fit, score, k=2).accuracy == 1.0
    assert info.linear_probe(z, y, fit, score, k=1).accuracy < 0.75


def _lower_median_bandwidth(x):
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    values = np.sort(d2[np.triu_indices(len(x), 1)])
    return math.sqrt(values[(len(values) - 1) // 2])


def test_the_bandwidth_is_the_lower_median_of_the_distinct_pairs():
    x = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])           # 10 pairs, no ties
    assert info.gaussian_gram(x)[1] == pytest.approx(_lower_median_bandwidth(x), rel=1e-12)
    # one zero among six pairs: the lower median of all pairs (1) is not that of the five positive ones (4)
    with_twin = np.array([[0.0], [0.0], [1.0], [3.0]])
    assert info.gaussian_gram(with_twin)[1] == pytest.approx(_lower_median_bandwidth(with_twin), rel=1e-12)


def test_identical_points_have_one_state_and_no_bandwidth():
    gram, h = info.gaussian_gram(np.ones((4, 3)))
    assert h == 0.0
    np.testing.assert_array_equal(gram, np.ones((4, 4)))


def test_the_plane_reports_each_layer_and_keeps_the_per_probe_arrays():
    z, y = _two_classes(n=40, seed=2)
    layers = [z, z * 2.0 + 1.0, np.c_[z[:, :1], np.zeros((40, 3))]]
    fit, score = np.arange(20), np.arange(20, 40)
    seen = []
    plane = info.information_plane(layers, y, fit, score, k=4, seed=3, on_layer=seen.append)
    assert seen == [0, 1, 2]
    assert plane.probe_nll.shape == plane.probe_correct.shape == (len(score), 3)
    for layer, z_l in enumerate(layers):
        probe = info.linear_probe(z_l, y, fit, score, k=4)
        np.testing.assert_allclose(plane.probe_nll[:, layer], probe.nll, rtol=1e-9)
        np.testing.assert_array_equal(plane.probe_correct[:, layer], probe.correct)
    assert plane.probe_label_entropy == pytest.approx(info.label_entropy(y[score]), rel=1e-12)
    np.testing.assert_allclose(plane.compression, np.array(plane.mi_xt_kde) / plane.input_information, rtol=1e-12)


def test_the_smoothing_figures_of_a_two_token_sequence():
    x = np.array([[[1.0, 0.0], [1.0, 1.0], [5.0, 5.0]]])
    content = np.array([[True, True, False]])
    got = smoothing.figures(x, content)
    # tokens (1, 0) and (1, 1): cosine 1/sqrt 2; mean (1, 0.5), residual^2 0.5 of norm^2 3; one neighbour pair
    assert got["token_similarity"][0] == pytest.approx(1 / math.sqrt(2), rel=1e-12)
    assert got["rank_collapse_residual"][0] == pytest.approx(math.sqrt(0.5 / 3), rel=1e-12)
    assert got["dirichlet_energy"][0] == pytest.approx(1 / 3, rel=1e-12)
