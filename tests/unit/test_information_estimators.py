"""Known answers for the information-plane estimators (docs/METHODS.md, bottleneck.information_plane)."""
import math

import numpy as np
import pytest

from auditor.checks.bottleneck import rank_correlation
from auditor.estimators import information as info
from auditor.splits import split_indices

LOG2E = math.log2(math.e)


def _gaussian(n: int, d: int, variance: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) * math.sqrt(variance)


def test_gaussian_channel_matches_the_closed_form_where_the_bound_is_tight():
    # T = X + N(0, sigma^2), X ~ N(0, s^2). The estimator treats the samples as the centres of a Gaussian
    # mixture; with infinitely many samples its pairwise (KL) bound is d/2 [log2(1 + snr) + log2(e) snr/(1 + snr)]:
    # the closed form plus at most d/2 log2(e) bits. That excess is small beside the closed form only when
    # the signal-to-noise ratio is high (relative error ~ 1/ln(1 + snr)), and the samples must be dense at
    # the noise's scale for the mixture to look Gaussian, which in d = 1 takes only a few thousand samples.
    # At snr = 1e5 and N = 2000 the bound is 4-5% above the truth.
    snr = 1e5
    x = _gaussian(2000, 1, snr)
    truth = 0.5 * math.log2(1 + snr)
    estimate = info.kde_mutual_information(x, sigma=1.0)
    assert abs(estimate - truth) <= 0.10 * truth
    assert estimate >= truth          # an upper bound


@pytest.mark.parametrize("d, snr", [(2, 1.0), (4, 1.0), (4, 0.25)])
def test_gaussian_channel_at_low_snr_exceeds_the_closed_form_by_the_known_excess(d, snr):
    # where the bound is loose its looseness is itself a known answer (the large-sample limit above)
    x = _gaussian(2000, d, snr, seed=d)
    truth = d / 2 * math.log2(1 + snr)
    limit = truth + d / 2 * LOG2E * snr / (1 + snr)
    estimate = info.kde_mutual_information(x, sigma=1.0)
    assert truth < estimate and abs(estimate - limit) <= 0.05 * limit


def test_well_separated_points_give_exactly_log2_of_their_number():
    # the bound is exact for components that do not overlap: T takes 8 equally likely far-apart values
    points = np.random.default_rng(3).normal(size=(8, 5)) * 100
    t = np.repeat(points, 25, axis=0)
    assert info.kde_mutual_information(t, sigma=1.0) == pytest.approx(3.0, abs=1e-9)
    assert info.kde_mutual_information(np.zeros((50, 3)), sigma=1.0) == 0.0    # T forgets X entirely


def _clusters(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """6 tight, far-apart clusters in 8-d; Y = cluster mod 3, a deterministic function of the cluster."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(6), 60)
    t = rng.normal(size=(6, 8))[cluster] * 10 + rng.normal(size=(360, 8)) * 0.5
    return t, cluster % 3


def test_labels_that_are_a_function_of_separated_clusters_carry_all_of_h_y():
    t, y = _clusters()
    h_y = info.label_entropy(y)
    assert h_y == pytest.approx(math.log2(3))
    ts = info.standardise(t)
    sigma = info.calibrate_sigma(ts)
    assert info.kde_label_information(ts, y, sigma) == pytest.approx(h_y, rel=0.01)
    fit, score = split_indices(len(y), list(y), seed=0)
    probe = info.linear_probe(t, y, fit, score)
    assert probe.accuracy == 1.0 and probe.chance == pytest.approx(1 / 3, abs=0.02)
    assert probe.bound >= 0.9 * h_y and probe.bound <= probe.label_entropy
    # the median-bandwidth Renyi estimate blurs the clusters but still sees most of the label information
    gram, _ = info.gaussian_gram(ts)
    assert 0.3 * h_y < info.renyi_mutual_information(gram, info.label_gram(y)) <= h_y + 1e-9


def test_independent_variables_give_values_close_to_zero():
    rng = np.random.default_rng(7)
    t, x = rng.normal(size=(1000, 16)), rng.normal(size=(1000, 16))
    y = rng.integers(0, 4, 1000)
    h_y = info.label_entropy(y)
    ts = info.standardise(t)
    sigma = info.calibrate_sigma(ts)
    # the KDE I(T;Y) keeps a small positive finite-sample bias (each point's own kernel weighs more in its
    # class's mixture), about log2(1 + C / sqrt(N)) at the calibrated sigma; the check reports it beside a
    # shuffled-label baseline
    assert 0.0 <= info.kde_label_information(ts, y, sigma) < 0.1 * h_y
    gram_t, _ = info.gaussian_gram(ts)
    assert abs(info.renyi_mutual_information(gram_t, info.label_gram(y))) < 0.02 * h_y
    gram_x, _ = info.gaussian_gram(info.standardise(x))
    assert abs(info.renyi_mutual_information(gram_x, gram_t)) < 0.05 * info.renyi_entropy(gram_x)
    fit, score = split_indices(len(y), list(y), seed=0)
    probe = info.linear_probe(t, y, fit, score)
    assert probe.bound < 0.05 * h_y and abs(probe.accuracy - 0.25) < 0.1


def test_renyi_identical_variables_have_mutual_information_equal_to_entropy():
    labels = np.repeat(np.arange(4), 25)
    gram = info.label_gram(labels)
    assert info.renyi_entropy(gram) == pytest.approx(2.0)              # 4 equally likely values
    assert info.renyi_mutual_information(gram, gram) == pytest.approx(info.renyi_entropy(gram))
    far = np.eye(16) * 100.0                                             # 16 distinct far-apart points
    assert info.renyi_entropy(info.gaussian_gram(far, bandwidth=1.0)[0]) == pytest.approx(4.0)
    assert info.renyi_entropy(info.gaussian_gram(np.ones((10, 3)))[0]) == pytest.approx(0.0, abs=1e-12)
    # a Gaussian Gram is not idempotent under the Hadamard product, so for a continuous variable
    # I(X;X) is positive but at most S(X)
    gram_x, _ = info.gaussian_gram(info.standardise(_gaussian(300, 4, 1.0)))
    assert 0.0 < info.renyi_mutual_information(gram_x, gram_x) <= info.renyi_entropy(gram_x) + 1e-9


def test_calibrated_sigma_puts_the_input_half_way_to_saturation():
    x = info.standardise(_gaussian(400, 10, 1.0, seed=5))
    sigma = info.calibrate_sigma(x, fraction=0.5)
    assert info.kde_mutual_information(x, sigma) == pytest.approx(0.5 * math.log2(400), rel=1e-4)
    # duplicates lower the ceiling: 40 distinct points, each 10 times, top out at log2 40
    repeated = np.repeat(x[:40], 10, axis=0)
    sigma = info.calibrate_sigma(repeated, fraction=0.5)
    assert info.kde_mutual_information(repeated, sigma) == pytest.approx(0.5 * math.log2(40), rel=1e-4)


def test_standardise_keeps_at_most_k_components_at_unit_total_variance():
    z = _gaussian(50, 100, 4.0)
    s = info.standardise(z, k=32)
    assert s.shape == (50, 32)
    assert float((s ** 2).sum(axis=1).mean()) == pytest.approx(1.0)
    np.testing.assert_allclose(s.mean(axis=0), 0.0, atol=1e-10)
    assert info.standardise(np.ones((20, 5))).shape == (20, 0)         # no variance, no components


def test_rank_correlation_reads_trends_and_ignores_flat_noise():
    assert rank_correlation([1, 2, 3, 4], [10, 20, 25, 40]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert rank_correlation([1.0, 1.001, 0.999], [2.0, 2.002, 1.999]) == 1.0     # both flat: agree
    assert rank_correlation([1.0, 1.001, 0.999], [1, 2, 3]) == 0.0              # no shared trend
    assert rank_correlation([1, None, 3, 2], [1, 5, 3, 2]) == pytest.approx(1.0)
    assert rank_correlation([1], [2]) is None


def _layers(n: int = 240, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Four 'layers' in which three label groups separate progressively."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    centres = rng.normal(size=(3, 24)) * 3
    return [rng.normal(size=(n, 24)) + centres[y] * w for w in (0.0, 0.3, 0.6, 1.0)], y


def test_information_plane_is_deterministic_and_tracks_separation():
    layers, y = _layers()
    fit, score = split_indices(len(y), list(y), seed=0)
    first = info.information_plane(layers, y, fit, score, seed=4)
    second = info.information_plane(layers, y, fit, score, seed=4)
    assert first == second
    for name in ("mi_xt_kde", "mi_ty_kde", "mi_xt_renyi", "mi_ty_renyi", "probe_accuracy", "mi_ty_probe_bound",
                 "compression"):
        assert len(getattr(first, name)) == 4
    assert first.compression[0] == pytest.approx(1.0)
    assert first.input_information == pytest.approx(0.5 * math.log2(len(y)), rel=1e-4)
    # more separation, more task information, under every estimator, and above the shuffled baselines
    for name in ("mi_ty_kde", "mi_ty_renyi", "mi_ty_probe_bound", "probe_accuracy"):
        series = getattr(first, name)
        assert series[-1] > series[0], name
    assert first.mi_ty_kde[-1] > 3 * first.mi_ty_kde_shuffled[-1]
    assert first.mi_ty_renyi[-1] > 3 * first.mi_ty_renyi_shuffled[-1]
    assert rank_correlation(first.mi_ty_kde, first.mi_ty_renyi) == pytest.approx(1.0)


def test_sub_sampling_is_seeded_and_records_the_sample_size():
    layers, y = _layers(n=300)
    fit, score = split_indices(len(y), list(y), seed=0)
    small = info.information_plane(layers, y, fit, score, max_samples=120, seed=1)
    again = info.information_plane(layers, y, fit, score, max_samples=120, seed=1)
    other = info.information_plane(layers, y, fit, score, max_samples=120, seed=2)
    assert (small.sample_size, small.count) == (120, 300)
    assert small == again and small.mi_xt_renyi != other.mi_xt_renyi
    assert info.information_plane(layers, y, fit, score).sample_size == 300
    indices = info.subsample_indices(300, 120, seed=1)
    assert len(np.unique(indices)) == 120 and np.all(np.diff(indices) > 0)


def test_a_fixed_sigma_and_a_separate_input_are_used_as_given():
    layers, y = _layers()
    fit, score = split_indices(len(y), list(y), seed=0)
    x = np.random.default_rng(9).normal(size=(len(y), 24))
    plane = info.information_plane(layers, y, fit, score, inputs=x, sigma=0.4)
    assert plane.sigma == 0.4 and plane.sigma_rule.startswith("fixed")
    ts = info.standardise(layers[2])
    assert plane.mi_xt_kde[2] == pytest.approx(info.kde_mutual_information(ts, 0.4))
    assert plane.input_information == pytest.approx(info.kde_mutual_information(info.standardise(x), 0.4))


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no GPU")
def test_gpu_and_cpu_agree():
    layers, y = _layers()
    fit, score = split_indices(len(y), list(y), seed=0)
    cpu = info.information_plane(layers, y, fit, score)
    gpu = info.information_plane(layers, y, fit, score, device="cuda")
    for name in ("mi_xt_kde", "mi_ty_kde", "mi_xt_renyi", "mi_ty_renyi", "mi_ty_probe_bound"):
        np.testing.assert_allclose(getattr(gpu, name), getattr(cpu, name), rtol=1e-6, atol=1e-9)
