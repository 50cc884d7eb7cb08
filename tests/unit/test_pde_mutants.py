"""flow.pde pieces pinned to values built here (issue 14, `make mutation` survivors; docs/METHODS.md, flow.pde).

The PCA basis against an SVD of the centred tokens, the streamed statistics against one pass over all
tokens, the surrogate's prediction and term energies against the model written out in full d, and the
solver's corner cases (full basis, diffusion alone, a singular system) against noise-free known answers.
"""
import warnings

import numpy as np
import pytest

from auditor.estimators.pde import Scatter, StepStats, Surrogate, pca_basis, pca_basis_of_scatter, solve

TINY_RIDGE = 1e-12


def _svd_basis(tokens: np.ndarray, k: int) -> np.ndarray:
    x = tokens - tokens.mean(axis=0)
    return np.linalg.svd(x, full_matrices=False)[2][:k].T


def _same_span_columns(a: np.ndarray, b: np.ndarray) -> None:
    """Equal column by column up to each column's sign."""
    assert a.shape == b.shape
    np.testing.assert_allclose(np.abs((a * b).sum(axis=0)), 1.0, atol=1e-9)
    np.testing.assert_allclose(a.T @ a, np.eye(a.shape[1]), atol=1e-9)


def test_pca_basis_centres_each_column_before_the_directions():
    rng = np.random.default_rng(0)
    # a large offset along axis 0 and the spread along axis 1: the top direction is axis 1
    tokens = rng.normal(size=(200, 3)) * [0.1, 3.0, 1.0] + [50.0, 0.0, 0.0]
    top = pca_basis(tokens, 1)[:, 0]
    assert abs(top[1]) == pytest.approx(1.0, abs=1e-3)
    _same_span_columns(pca_basis(tokens, 2), _svd_basis(tokens, 2))


def test_pca_basis_with_fewer_tokens_than_dimensions_matches_the_svd():
    rng = np.random.default_rng(1)
    tokens = rng.normal(size=(5, 8)) * np.linspace(4.0, 0.5, 8) + 7.0
    basis = pca_basis(tokens, 3)
    _same_span_columns(basis, _svd_basis(tokens, 3))


@pytest.mark.parametrize(("n", "d", "k", "expected"), [(20, 5, 2, 2), (20, 5, 9, 5), (4, 6, 5, 3), (4, 6, 2, 2)])
def test_pca_basis_keeps_k_columns_capped_by_d_and_tokens_minus_one(n, d, k, expected):
    tokens = np.random.default_rng(n * d + k).normal(size=(n, d))
    assert pca_basis(tokens, k).shape == (d, expected)


@pytest.mark.parametrize(("n", "d", "k", "expected"), [(20, 5, 2, 2), (20, 5, 9, 5), (2, 4, 3, 1), (3, 4, 3, 2)])
def test_pca_basis_of_scatter_keeps_the_same_number_of_columns(n, d, k, expected):
    tokens = np.random.default_rng(n + d + k).normal(size=(n, d))
    assert pca_basis_of_scatter(Scatter.of(tokens), k).shape == (d, expected)


def test_pca_basis_of_scatter_is_the_pca_basis_of_its_tokens():
    tokens = np.random.default_rng(2).normal(size=(60, 4)) * [3.0, 2.0, 1.0, 0.5] + 4.0
    _same_span_columns(pca_basis_of_scatter(Scatter.of(tokens), 3), _svd_basis(tokens, 3))


def test_scatters_add_up_to_the_scatter_of_all_tokens():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(30, 4)) + 2.0, rng.normal(size=(50, 4)) * 2 - 1.0
    both, whole = Scatter.of(a) + Scatter.of(b), np.concatenate([a, b])
    centred = whole - whole.mean(axis=0)
    assert both.n == 80
    np.testing.assert_allclose(both.mean, whole.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(both.matrix, centred.T @ centred, rtol=1e-5)


def test_the_scatter_mean_of_float32_tokens_is_exact_in_float64():
    tokens = (1000.0 + np.random.default_rng(4).normal(size=(4000, 3))).astype(np.float32)
    np.testing.assert_allclose(Scatter.of(tokens).mean, tokens.astype(np.float64).mean(axis=0), rtol=1e-12)


def _batch(rng: np.random.Generator, n: int, d: int, dtype=np.float64):
    h, lap, att, y = (rng.normal(size=(n, d)).astype(dtype) for _ in range(4))
    return h, lap, att, y


def _assert_same_stats(a: StepStats, b: StepStats) -> None:
    assert a.n == b.n
    np.testing.assert_allclose(a.m, b.m, rtol=1e-10, atol=1e-9)
    for name in a.cols:
        np.testing.assert_allclose(a.cols[name], b.cols[name], rtol=1e-10)
    for name in a.dots:
        assert a.dots[name] == pytest.approx(b.dots[name], rel=1e-10)
    for name in a.sums:
        np.testing.assert_allclose(a.sums[name], b.sums[name], rtol=1e-10, atol=1e-9)


def test_statistics_streamed_in_batches_equal_one_pass_over_all_tokens():
    rng = np.random.default_rng(5)
    q = np.linalg.qr(rng.normal(size=(6, 3)))[0]
    first, second = _batch(rng, 40, 6), _batch(rng, 25, 6)
    whole = StepStats(q, with_attention=True)
    whole.add(*(np.concatenate([x, z]) for x, z in zip(first, second, strict=True)))
    streamed = StepStats(q, with_attention=True)
    streamed.add(*first)
    streamed.add(*second)
    _assert_same_stats(streamed, whole)
    merged, other = StepStats(q, with_attention=True), StepStats(q, with_attention=True)
    merged.add(*first)
    other.add(*second)
    merged += other
    _assert_same_stats(merged, whole)
    # the per-column sums by hand: u = yQ, lq = Lap(h)Q
    y, lap = np.concatenate([first[3], second[3]]), np.concatenate([first[1], second[1]])
    np.testing.assert_allclose(whole.cols["uu"], ((y @ q) ** 2).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(whole.cols["ll"], ((lap @ q) ** 2).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(whole.cols["ul"], ((y @ q) * (lap @ q)).sum(axis=0), rtol=1e-10)
    assert whole.n == 65


def test_the_sums_of_float32_tokens_are_accumulated_in_float64():
    rng = np.random.default_rng(6)
    q = np.linalg.qr(rng.normal(size=(4, 2)))[0]
    h, lap, att, y = (x + np.float32(300.0) for x in _batch(rng, 3000, 4, np.float32))
    stats = StepStats(q, with_attention=True)
    stats.add(h, lap, att, y)
    for name, x in zip("hlay", (h, lap, att, y), strict=True):
        np.testing.assert_allclose(stats.sums[name], x.astype(np.float64).sum(axis=0), rtol=1e-13)


def test_without_attention_the_attention_products_outside_the_span_are_zero():
    rng = np.random.default_rng(7)
    q = np.linalg.qr(rng.normal(size=(5, 2)))[0]
    h, lap, _, y = _batch(rng, 30, 5)
    stats = StepStats(q, with_attention=False)
    stats.add(h, lap, None, y)
    dots, _ = stats.perp(2)
    assert (dots["ya"], dots["aa"], dots["al"], dots["ah"]) == (0.0, 0.0, 0.0, 0.0)
    p = np.eye(5) - q @ q.T
    assert dots["yl"] == pytest.approx(float(((y @ p) * (lap @ p)).sum()), rel=1e-10)


def test_solve_without_tokens_says_so():
    with pytest.raises(ValueError, match="no fit tokens"):
        solve(StepStats(np.eye(3)[:, :2], with_attention=False), 2)


def _flow(rng, n=300, d=6, diffusion=0.3):
    h, lap = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    reaction = rng.normal(size=(d, d)) * 0.2
    return h, lap, diffusion * lap + h @ reaction + 0.05


def test_a_full_basis_recovers_the_diffusion_from_inside_the_span():
    # k = d leaves nothing outside the span: D comes from the in-span profile alone
    rng = np.random.default_rng(8)
    h, lap, y = _flow(rng)
    stats = StepStats(pca_basis(h, 6), with_attention=False)
    stats.add(h, lap, None, y)
    assert solve(stats, 6, ridge=TINY_RIDGE).diffusion == pytest.approx(0.3, abs=1e-6)


def test_diffusion_alone_is_solved_without_warnings():
    rng = np.random.default_rng(9)
    h, lap = rng.normal(size=(200, 5)), rng.normal(size=(200, 5))
    stats = StepStats(pca_basis(h, 3), with_attention=False)
    stats.add(h, lap, None, 0.3 * lap + 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = solve(stats, 3, ridge=TINY_RIDGE, terms=frozenset({"diffusion"}))
    assert model.diffusion == pytest.approx(0.3, abs=1e-6)


def test_a_singular_system_falls_back_to_least_squares():
    # attention columns declared but never fed: all-zero rows, so M_ff is singular without a ridge
    rng = np.random.default_rng(10)
    h, lap = rng.normal(size=(300, 6)), rng.normal(size=(300, 6))
    y = 0.3 * lap - 0.1 * h + 0.05            # an isotropic reaction: exact at k < d
    stats = StepStats(pca_basis(h, 4), with_attention=True)
    stats.add(h, lap, None, y)
    with pytest.raises(np.linalg.LinAlgError):
        idx = stats.index(4, frozenset({"attention", "diffusion", "reaction"}))
        np.linalg.solve(stats.m[np.ix_(idx["f"], idx["f"])], np.ones(len(idx["f"])))
    model = solve(stats, 4, ridge=0.0)
    assert model.diffusion == pytest.approx(0.3, abs=1e-6)
    assert model.reaction_out == pytest.approx(-0.1, abs=1e-6)


def _surrogate(rng, d=5, k=3, attention=True):
    q = np.linalg.qr(rng.normal(size=(d, k)))[0]
    g = rng.normal(size=((2 if attention else 1) * k + 1, k))
    b = rng.normal(size=d)
    b_perp = b - q @ (q.T @ b)
    return Surrogate(k=k, q=q, with_attention=attention, terms=frozenset({"attention", "diffusion", "reaction"}),
                     g=g, diffusion=0.3, attention_out=0.4, reaction_out=-0.2, bias_perp=b_perp)


def _model_in_full_d(s: Surrogate, h, lap, att):
    """T Q W Q^T + a T P, H Q R Q^T + c H P + b (in-span bias mapped back, plus b_perp), D Lap(H)."""
    k, q = s.k, s.q
    p = np.eye(q.shape[0]) - q @ q.T
    w, r, bias = s.g[:k], s.g[k:2 * k], s.g[-1]
    attention = 0.0 if att is None else att @ q @ w @ q.T + s.attention_out * att @ p
    reaction = h @ q @ r @ q.T + s.reaction_out * h @ p + bias @ q.T + s.bias_perp
    return attention, s.diffusion * lap, reaction


def test_the_prediction_and_its_term_energies_are_the_model_written_out():
    rng = np.random.default_rng(11)
    s = _surrogate(rng)
    h, lap, att = (rng.normal(size=(20, 5)) for _ in range(3))
    pred = s.predict(h @ s.q, att @ s.q, lap, h, att)
    attention, diffusion, reaction = _model_in_full_d(s, h, lap, att)
    np.testing.assert_allclose(pred.change, attention + diffusion + reaction, rtol=1e-10, atol=1e-12)
    assert pred.energy["attention"] == pytest.approx(float((attention ** 2).sum()), rel=1e-10)
    assert pred.energy["diffusion"] == pytest.approx(float((diffusion ** 2).sum()), rel=1e-10)
    assert pred.energy["reaction"] == pytest.approx(float((reaction ** 2).sum()), rel=1e-10)


@pytest.mark.parametrize("attention_out", [0.4, 0.0])
def test_without_full_d_transport_only_the_in_span_attention_acts(attention_out):
    rng = np.random.default_rng(12)
    s = _surrogate(rng)
    s.attention_out = attention_out
    h, lap, att = (rng.normal(size=(20, 5)) for _ in range(3))
    pred = s.predict(h @ s.q, att @ s.q, lap, h, None)
    in_span = att @ s.q @ s.g[:s.k] @ s.q.T
    _, diffusion, reaction = _model_in_full_d(s, h, lap, None)
    np.testing.assert_allclose(pred.change, in_span + diffusion + reaction, rtol=1e-10, atol=1e-12)
    assert pred.energy["attention"] == pytest.approx(float((in_span ** 2).sum()), rel=1e-10)


def test_the_prediction_keeps_the_inputs_float32_precision():
    rng = np.random.default_rng(13)
    s = _surrogate(rng)
    h, lap, att = (rng.normal(size=(10, 5)).astype(np.float32) for _ in range(3))
    q32 = s.q.astype(np.float32)
    pred = s.predict(h @ q32, att @ q32, lap, h, att)
    assert pred.change.dtype == np.float32
    np.testing.assert_allclose(pred.change, sum(_model_in_full_d(s, *(x.astype(np.float64) for x in (h, lap, att)))),
                               rtol=1e-4, atol=1e-4)
