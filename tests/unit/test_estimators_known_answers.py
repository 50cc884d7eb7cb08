"""Known answers for auditor/estimators/ beside the flow surrogate (issue 14, 'tests that catch broken maths').

Each figure is pinned to a value worked out by hand or from its definition, with a tolerance far below 5%,
so a factor of 1.05 anywhere (a wrong exponent, a dropped half, a swapped sign) fails the test.
"""
import math

import numpy as np
import pytest

from auditor.estimators import attention as att
from auditor.estimators import information as info
from auditor.estimators import perturbation as pert
from auditor.estimators import smoothing as sm
from auditor.estimators.attention_kernel import KernelFit, add_fit_layers
from auditor.estimators.probe_head import fit_softmax, predict
from auditor.estimators.spectra import participation_ratio

LOG2E = math.log2(math.e)


def _kde_by_definition(t: np.ndarray, sigma: float, labels: np.ndarray | None = None) -> float:
    """-mean_i log2 mean_j exp(-|t_i - t_j|^2 / 2 sigma^2), or H(T) - sum_y p(y) H(T|y) under the same bound."""
    d2 = ((t[:, None, :] - t[None, :, :]) ** 2).sum(axis=2)
    kernel = np.exp(-d2 / (2 * sigma ** 2))
    h = -np.log2(kernel.mean(axis=1)).mean()
    if labels is None:
        return float(h)
    same = labels[:, None] == labels[None, :]
    h_given = -np.log2((kernel * same).sum(axis=1) / same.sum(axis=1)).mean()
    return float(h - h_given)


# ---------------------------------------------------------------- KDE (Kolchinsky-Tracey)

def test_kde_of_two_points_is_the_closed_form():
    # two points at distance r with r^2 = 2 ln 2 sigma^2: the kernel between them is exactly 1/2, so
    # I = -log2((1 + 1/2) / 2); an exponent of -d^2/sigma^2 would give -log2(0.625) = 0.678 instead of 0.415
    t = np.array([[0.0], [math.sqrt(2 * math.log(2))]])
    assert info.kde_mutual_information(t, sigma=1.0) == pytest.approx(-math.log2(0.75), rel=1e-12)
    assert info.kde_mutual_information(t * 3.0, sigma=3.0) == pytest.approx(-math.log2(0.75), rel=1e-12)


def test_gaussian_channel_at_unit_snr_matches_the_large_sample_bound():
    # T = X + N(0, 1), X ~ N(0, I_2): the bound's large-sample value is d/2 [log2(1 + snr) + log2(e) snr/(1 + snr)]
    # = 1.7213 bits; a kernel of exp(-d^2/sigma^2) acts as snr = 2 and gives 2.548 (+48%); seeded, the sample
    # lands within 0.2% of the limit, so 2% catches a 5% error and is still far from the noise
    x = np.random.default_rng(0).normal(size=(2000, 2))
    limit = math.log2(2.0) + LOG2E * 0.5
    assert info.kde_mutual_information(x, sigma=1.0) == pytest.approx(limit, rel=0.02)


def test_kde_values_match_their_definition_on_overlapping_points():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(40, 3))
    y = rng.integers(0, 3, 40)
    for sigma in (0.3, 1.0, 2.5):
        assert info.kde_mutual_information(t, sigma) == pytest.approx(_kde_by_definition(t, sigma), rel=1e-10)
        assert info.kde_label_information(t, y, sigma) == pytest.approx(_kde_by_definition(t, sigma, y), rel=1e-10)


def test_kde_label_information_of_separated_clusters_is_exact():
    centres = np.eye(4) * 100.0
    t = np.repeat(centres, 6, axis=0)                           # 4 far-apart values, 6 copies each
    y_function = np.repeat([0, 1, 0, 1], 6)                     # Y = cluster mod 2: 1 bit
    y_independent = np.tile([0, 1], 12)                         # each cluster holds both labels equally: 0 bits
    assert info.kde_label_information(t, y_function, 1.0) == pytest.approx(1.0, abs=1e-12)
    assert info.kde_label_information(t, y_independent, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert info.kde_mutual_information(t, 1.0) == pytest.approx(2.0, abs=1e-12)


def test_calibrated_sigma_of_two_points_is_the_closed_form():
    # I(X;X) = 0.5 bit of a 1-bit ceiling: (1 + e) / 2 = 2^-0.5, e = exp(-r^2 / 2 sigma^2) = sqrt(2) - 1
    r = 2.0
    sigma = math.sqrt(r ** 2 / (2 * -math.log(math.sqrt(2) - 1)))
    x = np.array([[0.0, 0.0], [r, 0.0]])
    assert info.calibrate_sigma(x, fraction=0.5) == pytest.approx(sigma, rel=1e-5)
    assert info.calibrate_sigma(np.zeros((5, 2))) == 1.0       # no spread: nothing to calibrate on
    assert info.calibrate_sigma(x[:1]) == 1.0


# ---------------------------------------------------------------- matrix-based Renyi

def test_renyi_entropy_of_a_label_gram_is_the_renyi_2_entropy_of_the_labels():
    labels = np.array([0, 0, 1, 2])                             # p = (1/2, 1/4, 1/4)
    assert info.renyi_entropy(info.label_gram(labels)) == pytest.approx(-math.log2(0.375), rel=1e-12)
    a, b = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])      # independent: the joint has 4 equal values
    assert info.renyi_mutual_information(info.label_gram(a), info.label_gram(b)) == pytest.approx(0.0, abs=1e-12)
    assert info.renyi_mutual_information(info.label_gram(a), info.label_gram(a)) == pytest.approx(1.0, rel=1e-12)
    assert info.renyi_entropy(np.zeros((3, 3))) == 0.0


def test_gaussian_gram_uses_the_median_distance_and_half_over_h_squared():
    x = np.array([[0.0], [1.0], [3.0]])                         # squared distances 1, 9, 4: median 4, h = 2
    gram, h = info.gaussian_gram(x)
    d2 = (x - x.T) ** 2
    assert h == pytest.approx(2.0, rel=1e-12)
    np.testing.assert_allclose(gram, np.exp(-d2 / 8.0), rtol=1e-12)
    expected = -math.log2((np.exp(-d2 / 8.0) ** 2).sum() / 9.0)
    assert info.renyi_entropy(gram) == pytest.approx(expected, rel=1e-12)
    # mostly duplicates: the median of the distinct pairs (here 1), not 0
    assert info.gaussian_gram(np.array([[0.0], [0.0], [0.0], [1.0]]))[1] == pytest.approx(1.0)
    gram, h = info.gaussian_gram(x, bandwidth=0.5)
    assert h == 0.5
    np.testing.assert_allclose(gram, np.exp(-d2 / 0.5), rtol=1e-12)


# ---------------------------------------------------------------- helpers, probe, the plane

def test_label_entropy_and_subsample():
    assert info.label_entropy(np.array([0, 0, 1, 2])) == pytest.approx(1.5, rel=1e-12)
    assert info.label_entropy(np.array([3, 3])) == 0.0
    np.testing.assert_array_equal(info.subsample_indices(5, 5), np.arange(5))
    picked = info.subsample_indices(50, 20, seed=3)
    assert len(picked) == 20 and len(set(picked)) == 20 and np.all(np.diff(picked) > 0) and picked.max() < 50
    np.testing.assert_array_equal(picked, info.subsample_indices(50, 20, seed=3))


@pytest.mark.parametrize("n, d, k", [(30, 5, 3), (10, 20, 4)])
def test_standardise_is_the_top_pca_scores_at_unit_total_variance(n, d, k):
    z = np.random.default_rng(n).normal(size=(n, d)) * np.linspace(1.0, 3.0, d) + 7.0
    zc = z - z.mean(axis=0)
    u, s, _ = np.linalg.svd(zc, full_matrices=False)
    scores = u[:, :k] * s[:k]
    scores /= math.sqrt((scores ** 2).sum(axis=1).mean())
    np.testing.assert_allclose(np.abs(info.standardise(z, k)), np.abs(scores), atol=1e-9)


def test_probe_without_usable_features_predicts_the_fit_frequencies():
    # a huge L2 penalty pins the weights to ~0; the free bias then learns the fit split's class frequencies
    # (2/3, 1/3), so the held-out cross-entropy is -(log2 2/3 + log2 1/3) / 2 on a balanced score split
    rng = np.random.default_rng(2)
    y = np.array([0] * 20 + [1] * 10 + [0] * 6 + [1] * 6)
    z = rng.normal(size=(len(y), 5))
    fit, score = np.arange(30), np.arange(30, 42)
    probe = info.linear_probe(z, y, fit, score, l2=1e6)
    assert probe.cross_entropy == pytest.approx(-(math.log2(2 / 3) + math.log2(1 / 3)) / 2, rel=1e-4)
    assert (probe.accuracy, probe.chance, probe.label_entropy, probe.bound) == (0.5, 0.5, 1.0, 0.0)
    empty = info.linear_probe(z, np.zeros(len(y)), fit, score)   # one class in the fit split: no probe
    assert (empty.accuracy, empty.cross_entropy, empty.bound) == (None, None, None)


def test_probe_on_separable_classes_reaches_the_label_entropy():
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1, 2, 3], 30)
    z = rng.normal(size=(120, 6)) * 0.1 + np.eye(4, 6)[y] * 5
    fit = np.concatenate([np.arange(c * 30, c * 30 + 20) for c in range(4)])
    score = np.setdiff1d(np.arange(120), fit)
    probe = info.linear_probe(z, y, fit, score, l2=1e-4)
    assert probe.accuracy == 1.0 and probe.chance == 0.25 and probe.label_entropy == pytest.approx(2.0)
    assert probe.cross_entropy < 0.05 and probe.bound == pytest.approx(2.0 - probe.cross_entropy)


def test_information_plane_figures_are_the_single_estimators_on_standardised_layers():
    rng = np.random.default_rng(5)
    y = np.repeat([0, 1, 2], 20)
    layers = [rng.normal(size=(60, 6)) + np.eye(3, 6)[y] * w for w in (0.0, 10.0)]
    fit, score = np.arange(0, 60, 2), np.arange(1, 60, 2)
    plane = info.information_plane(layers, y, fit, score, k=4, seed=7)
    x = info.standardise(layers[0], 4)
    gram_x, hx = info.gaussian_gram(x)
    assert plane.input_information == pytest.approx(info.kde_mutual_information(x, plane.sigma), rel=1e-12)
    assert plane.input_information == pytest.approx(0.5 * math.log2(60), rel=1e-5)
    assert plane.input_bandwidth == pytest.approx(hx, rel=1e-12)
    shuffled = np.random.default_rng([7, 5151]).permutation(y)   # the plane's seeded control labelling
    for layer, z in enumerate(layers):
        t = info.standardise(z, 4)
        gram_t, h = info.gaussian_gram(t)
        expected = {
            "mi_xt_kde": info.kde_mutual_information(t, plane.sigma),
            "mi_ty_kde": info.kde_label_information(t, y, plane.sigma),
            "mi_ty_kde_shuffled": info.kde_label_information(t, shuffled, plane.sigma),
            "mi_xt_renyi": info.renyi_mutual_information(gram_x, gram_t),
            "mi_ty_renyi": info.renyi_mutual_information(gram_t, info.label_gram(y)),
            "mi_ty_renyi_shuffled": info.renyi_mutual_information(gram_t, info.label_gram(shuffled)),
            "effective_rank": participation_ratio(z), "renyi_bandwidths": h,
            "probe_accuracy": info.linear_probe(z, y, fit, score, k=4).accuracy,
        }
        for name, value in expected.items():
            assert getattr(plane, name)[layer] == pytest.approx(value, rel=1e-9, abs=1e-12), (name, layer)
        assert plane.compression[layer] == pytest.approx(plane.mi_xt_kde[layer] / plane.input_information)
        assert plane.components[layer] == 4
    # separated labels carry log2 3 bits and the shuffled baseline stays near 0; where the labels carry
    # nothing (layer 0) the estimate sits on its shuffled baseline (the finite-sample bias at N = 60)
    assert plane.mi_ty_kde[1] == pytest.approx(math.log2(3), rel=0.03)
    assert plane.mi_ty_kde_shuffled[1] < 0.1 and plane.mi_ty_renyi_shuffled[1] < 0.1
    assert abs(plane.mi_ty_kde[0] - plane.mi_ty_kde_shuffled[0]) < 0.1
    assert (plane.sample_size, plane.count, plane.label_entropy) == (60, 60, pytest.approx(math.log2(3)))


# ---------------------------------------------------------------- probe head, spectra

def test_probe_head_reaches_the_optimum_of_its_objective_on_raw_states():
    # the objective is convex: at its minimum the bias gradient mean(p - Y) and the standardised weight
    # gradient z^T (p - Y) / n + l2 w vanish; the head maps raw states, so both are read through predict()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 120)
    x = (rng.normal(size=(120, 4)) + np.eye(3, 4)[y]) * np.array([1.0, 10.0, 0.1, 3.0]) + np.array([5, -2, 0, 1])
    l2 = 0.05
    w, b = fit_softmax(x, y, 3, l2=l2)
    logits = predict(x, (w, b)).astype(np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    residual = p - np.eye(3)[y]
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    assert np.abs(residual.mean(axis=0)).max() < 1e-5
    assert np.abs(z.T @ residual / 120 + l2 * w * x.std(axis=0)[:, None]).max() < 1e-5
    assert predict(x[:2], (w, b)) == pytest.approx(x[:2].astype(np.float32) @ w + b)


@pytest.mark.parametrize("n", [4, 40])
def test_effective_rank_of_a_constructed_spectrum(n):
    # rows +-a e1 +-b e2 in every combination: covariance diag(a^2, b^2), so PR = (a^2 + b^2)^2 / (a^4 + b^4)
    signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]] * (n // 4), dtype=float)
    z = np.zeros((n, 6))
    z[:, :2] = signs * np.array([2.0, 1.0])
    assert participation_ratio(z + 3.0) == pytest.approx(25 / 17, rel=1e-12)
    assert participation_ratio(np.zeros((n, 6))) is None
    assert participation_ratio(z[:1]) is None and participation_ratio(z[0]) is None


# ---------------------------------------------------------------- smoothing

def test_token_similarity_and_rank_collapse_of_constructed_states():
    e1, e2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    x = np.stack([np.stack([2 * e1, e1, e2, -5 * e1]), np.stack([e1, e1 + e2, 5 * e2, e2])])
    content = np.array([[True, True, True, False], [True, True, False, False]])
    # sequence 0: cosines 1, 0, 0 among three content tokens (padding -e1 left out): 1/3
    # sequence 1: cos(e1, e1 + e2) = 1/sqrt 2; residual rows (0, -1/2), (0, 1/2) over norm sqrt 3
    np.testing.assert_allclose(sm.token_similarity(x, content), [1 / 3, 1 / math.sqrt(2)], rtol=1e-12)
    np.testing.assert_allclose(sm.rank_collapse_residual(x, content)[1], math.sqrt(0.5 / 3), rtol=1e-12)
    # sequence 0: mean (1, 1/3); |X - 1 mean|^2 = 1 + 0 + 1 + 3 x 1/9 + ... computed by hand below
    rows = np.stack([2 * e1, e1, e2])
    expected = np.linalg.norm(rows - rows.mean(axis=0)) / np.linalg.norm(rows)
    assert sm.rank_collapse_residual(x, content)[0] == pytest.approx(expected, rel=1e-12)
    single = np.array([[True, False, False, False], [False, False, False, False]])
    assert np.isnan(sm.token_similarity(x, single)).all() and np.isnan(sm.rank_collapse_residual(x, single)).all()


def test_dirichlet_energy_by_hand_on_a_chain_and_a_grid():
    a, b, c = [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]
    x = np.array([[a, b, c]])
    # |a - b|^2 + |b - c|^2 = 2 + 1 over |a|^2 + |b|^2 + |c|^2 = 4
    assert sm.dirichlet_energy(x, np.ones((1, 3), bool))[0] == pytest.approx(0.75, rel=1e-12)
    assert sm.dirichlet_energy(x, np.array([[True, False, True]]))[0] == 0.0    # no neighbouring content pair
    # a class token then a 2 x 2 grid [[a, b], [c, 0]]: pairs a-b, c-0 (across), a-c, b-0 (down)
    g = np.array([[[9.0, 9.0], a, b, c, [0.0, 0.0]]])
    energy = 2 + 2 + 1 + 1
    assert sm.dirichlet_energy(g, np.ones((1, 5), bool), grid=(2, 2), prefix=1)[0] == pytest.approx(
        energy / (162 + 4), rel=1e-12)
    figures = sm.figures(g, np.ones((1, 5), bool), grid=(2, 2), prefix=1)
    assert figures["dirichlet_energy"][0] == pytest.approx(energy / (162 + 4), rel=1e-9)


# ---------------------------------------------------------------- attention

def test_head_stats_of_a_two_key_row():
    # every row splits its mass between keys 0 and 3 of 4: entropy ln 2 / ln 4 = 1/2, distance 3/2 on
    # average (0.5 i + 0.5 |3 - i|), sink 1/2 on the first token, 1 with token 3 marked special too
    attn = np.zeros((1, 1, 4, 4))
    attn[..., 0] = attn[..., 3] = 0.5
    mask = np.ones((1, 4), bool)
    stats = att.head_stats(attn, mask, causal=False)
    assert stats.entropy[0, 0] == pytest.approx(0.5, rel=1e-6)
    assert stats.distance[0, 0] == pytest.approx(1.5, rel=1e-6)
    assert stats.sink[0, 0] == pytest.approx(0.5, rel=1e-6)
    special = np.array([[False, False, False, True]])
    assert att.head_stats(attn, mask, special, causal=False).sink[0, 0] == pytest.approx(1.0, rel=1e-6)


def test_rollout_and_relevance_by_hand():
    # both tokens attend to token 1: each layer mixes [[.5, .5], [0, 1]]; two layers give [[.25, .75], [0, 1]]
    attn = np.zeros((1, 1, 2, 2))
    attn[..., 1] = 1.0
    mask = np.ones((1, 2), bool)
    rolled = att.rollout([attn, attn], mask)
    np.testing.assert_allclose(rolled[0], [[0.25, 0.75], [0.0, 1.0]], atol=1e-12)
    np.testing.assert_allclose(att.input_relevance(rolled, mask, "cls")[0], [0.25, 0.75], atol=1e-12)
    np.testing.assert_allclose(att.input_relevance(rolled, mask, "last")[0], [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(att.input_relevance(rolled, mask, "mean")[0], [0.125, 0.875], atol=1e-12)


def test_spearman_with_ties_and_missing_values():
    # ranks (0, 1.5, 1.5, 3) and (0, 2, 1, 3): 4.5 / sqrt(4.5 x 5)
    assert att.spearman([1, 2, 2, 3, np.nan], [1, 3, 2, 4, 9]) == pytest.approx(4.5 / math.sqrt(22.5), rel=1e-12)
    assert att.spearman([1, 2], [1, 2]) is None


def test_output_cosine_ablation_effect_and_the_little_effect_rule():
    a = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [3.0, 4.0]])
    b = np.array([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0], [2.0, 2.0], [4.0, 3.0]])
    np.testing.assert_allclose(att.output_cosine(a, b), [0.0, 1.0, 0.0, 1.0, 24 / 25], rtol=1e-12)
    cos, flip = att.ablation_effect(a, b, np.array([0, 1, 1, 0, 0]), np.array([0, 1, 0, 0, 0]))
    assert cos == pytest.approx((2 + 24 / 25) / 5, rel=1e-12) and flip == pytest.approx(0.2)
    assert att.ablation_effect(a, b, None, None)[1] is None
    assert att.little_effect(0.99, 0.01, 0.99, 0.01) and att.little_effect(0.995, None, 0.99, 0.0)
    assert not att.little_effect(0.9899, 0.0, 0.99, 0.01) and not att.little_effect(1.0, 0.0101, 0.99, 0.01)


def test_kernel_fit_recovers_a_constructed_kernel_and_scores_cosine_one():
    mask = np.ones((3, 12), bool)
    mask[2, 9:] = False
    sinks = np.zeros((3, 12), bool)
    sinks[:, 0] = True
    truth = KernelFit(heads=1, causal=False)
    truth.choice = [(2.0, 1.0, 0.2)]
    attn = truth.kernels(mask, sinks)
    fit = KernelFit(heads=1, causal=False, rows_per_sequence=12)
    fit.add_fit(attn, mask, sinks)
    fit.solve()
    assert fit.choice == [(2.0, 1.0, 0.2)]
    fit.add_score(attn, mask, sinks)
    assert fit.score_rows == 33
    assert fit.score_kernel_sum[0] / fit.score_rows == pytest.approx(1.0, abs=1e-6)
    # cosine with uniform attention over each row's n valid keys: sum(a) / (|a| sqrt n), row by row
    n = mask.sum(axis=1)[:, None]
    rows = (attn[:, 0] * mask[:, None, :])[mask]
    uniform = rows.sum(axis=1) / (np.linalg.norm(rows, axis=1) * np.sqrt(np.broadcast_to(n, mask.shape)[mask]))
    assert fit.score_uniform_sum[0] / fit.score_rows == pytest.approx(uniform.mean(), rel=1e-6)


# ---------------------------------------------------------------- perturbation

def test_perturbation_figures_by_hand():
    clean = np.array([[[3.0, 4.0], [100.0, 0.0]]])
    mask = np.array([[True, False]])
    assert pert.frobenius(clean, mask)[0] == pytest.approx(5.0, rel=1e-12)
    moved = clean + np.array([[[0.3, 0.4], [7.0, 7.0]]])
    assert pert.relative_change(clean, moved, mask)[0] == pytest.approx(0.1, rel=1e-9)
    assert pert.relative_change(clean, moved, mask, clean_norm=np.array([2.5]))[0] == pytest.approx(0.2, rel=1e-9)
    rel = np.array([[0.1, 0.2, 0.4], [0.0, 5.0, 5.0], [0.2, 0.2, 0.8]])    # row 1 never moved: left out
    np.testing.assert_allclose(pert.amplification(rel), [1.0, 1.5, 4.0], rtol=1e-12)
    np.testing.assert_allclose(pert.layer_gain(rel), [1.5, 3.0], rtol=1e-12)
    still = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 3.0]])                   # none moved: all rows kept
    np.testing.assert_allclose(pert.layer_gain(still), [2e12, 1.5e0], rtol=1e-12)
    assert pert.lyapunov(np.array([math.e, 1 / math.e, math.e ** 2])) == pytest.approx(2 / 3, rel=1e-12)
    np.testing.assert_allclose(pert.row_cosine(np.array([[3.0, 4.0]]), np.array([[4.0, 3.0]])), [24 / 25])


def test_softmax_kl_and_flips_by_hand():
    clean, other = np.array([[0.0, math.log(3.0)]]), np.array([[1.0, 1.0]])
    np.testing.assert_allclose(pert.log_softmax(clean), [[math.log(0.25), math.log(0.75)]], rtol=1e-12)
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert pert.softmax_kl(clean, other)[0] == pytest.approx(kl, rel=1e-12)
    assert pert.softmax_kl(clean, clean)[0] == 0.0
    np.testing.assert_array_equal(pert.flips(np.array([[0, 1], [2, 1]]), np.array([[1, 0], [3, 1]])), [1.0, 0.0])


# ---------------------------------------------------------------- cases added for surviving mutants

def test_patch_distance_on_a_grid_that_is_not_square():
    # a 2 x 3 grid: patch 0 attends to patch 5 (row 1, col 2): distance sqrt(1 + 4)
    attn = np.zeros((1, 1, 6, 6))
    attn[0, 0, :, 5] = 1.0
    stats = att.head_stats(attn, np.ones((1, 6), bool), causal=False, grid=(2, 3))
    rows, cols = np.divmod(np.arange(6), 3)
    assert stats.distance[0, 0] == pytest.approx(np.hypot(rows - 1, cols - 2).mean(), rel=1e-6)


def test_head_stats_ignore_mass_on_padding_and_average_a_single_row():
    attn = np.zeros((1, 1, 3, 3))
    attn[0, 0, :, :2] = 0.4
    attn[0, 0, :, 2] = 0.2                                          # on the padded key: not an allowed choice
    mask = np.array([[True, True, False]])
    stats = att.head_stats(attn, mask, causal=False)
    assert stats.entropy[0, 0] == pytest.approx(-0.8 * math.log(0.4) / math.log(2), rel=1e-6)
    one = att.head_stats(attn, np.array([[True, False, False]]), causal=False)
    assert one.sink[0, 0] == pytest.approx(0.4, rel=1e-6)          # one valid query row: its own value


def test_relevance_and_rollout_per_sequence_with_padding():
    attn = np.zeros((2, 1, 3, 3))
    attn[0, 0, :, 1] = 1.0
    attn[1, 0, :2, 0] = 1.0                                         # sequence 1 has 2 tokens; its padded row is 0
    mask = np.array([[True, True, True], [True, True, False]])
    rolled = att.rollout([attn], mask)
    np.testing.assert_allclose(rolled[1, :2, :2], [[1.0, 0.0], [0.5, 0.5]], atol=1e-12)
    np.testing.assert_allclose(rolled[1, 2], [0.0, 0.0, 0.0], atol=1e-12)   # padded query: only its identity half
    np.testing.assert_allclose(att.input_relevance(rolled, mask, "last")[1], [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(att.input_relevance(rolled, mask, "mean").sum(axis=1), [1.0, 1.0], atol=1e-12)
    assert att.spearman([1, 2, 3], [5, 5, 5]) is None


def test_kernel_fit_with_two_sinks_and_a_sequence_without_one_matches_on_both_splits():
    mask = np.ones((3, 10), bool)
    sinks = np.zeros((3, 10), bool)
    sinks[0, [0, 9]] = True                                         # two sinks share the sink weight
    sinks[1, 0] = True                                              # sequence 2 has no sink: plain Gaussian rows
    truth = KernelFit(heads=2, causal=False)
    truth.choice = [(-1.0, 2.0, 0.35), (0.0, float("inf"), 0.0)]
    attn = truth.kernels(mask, sinks)
    fit = KernelFit(heads=2, causal=False, rows_per_sequence=10)
    fit.add_fit(attn, mask, sinks)
    fit.solve()
    assert fit.choice == truth.choice
    # the chosen candidate's mean cosine on the fit rows is exactly 1 (the grid holds the true kernel)
    assert fit.fit_sum.reshape(2, -1).max(axis=1) / fit.fit_rows == pytest.approx([1.0, 1.0], abs=1e-5)
    fit.add_score(attn[:1], mask[:1], sinks[:1])
    fit.add_score(attn[1:], mask[1:], sinks[1:])
    once = KernelFit(heads=2, causal=False, choice=fit.choice)
    once.add_score(attn, mask, sinks)
    np.testing.assert_allclose(fit.score_uniform_sum, once.score_uniform_sum, rtol=1e-9)
    np.testing.assert_allclose(fit.score_kernel_sum / fit.score_rows, [1.0, 1.0], atol=1e-6)
    with pytest.raises(AssertionError):
        add_fit_layers([KernelFit(heads=2, causal=False), KernelFit(heads=2, causal=True)], [attn, attn], mask, sinks)
