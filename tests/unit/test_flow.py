"""flow.smoothing and flow.pde known answers on hand-built layer trajectories (docs/METHODS.md)."""
from pathlib import Path

import numpy as np
import pytest

from auditor.checks.base import AuditContext
from auditor.checks.pde import FlowPDE
from auditor.checks.smoothing import FlowSmoothing
from auditor.estimators.laplacian import chain_laplacian, grid_laplacian
from auditor.estimators.smoothing import dirichlet_energy, rank_collapse_residual, token_similarity
from auditor.models.base import Capability, ModelIdentity
from auditor.probes.types import ProbeSet
from auditor.splits import split_indices
from auditor.trace import Trace, TraceBatch


def _run(check, hidden, mask, attentions=None, special=None, batch=8, seed=0):
    """Feed a hand-built trajectory through the check's accumulator in fit-first order, as the runner does."""
    n = hidden[0].shape[0]
    identity = ModelIdentity(format="test", architecture="hand-built", model_type="test", parameters=0,
                             layers=len(hidden) - 1, dtype="float32", sha256="0" * 64)
    probes = ProbeSet(spec="test", kind="text", sha256="0" * 64, texts=["x"] * n)
    ctx = AuditContext(identity=identity, capabilities=frozenset({Capability.HIDDEN_STATES}), trace=Trace(),
                       probes=probes, model_path=Path("."), seed=seed)
    ctx.split = split_indices(n, seed=seed)
    acc = check.accumulator(ctx)
    ctx.accumulators = {check.id: acc}
    order = np.concatenate(ctx.split)
    for start in range(0, n, batch):
        rows = order[start:start + batch]
        tb = TraceBatch(index=rows, mask=mask[rows], hidden=[h[rows] for h in hidden],
                        attentions=None if attentions is None else [a[rows] for a in attentions],
                        special=None if special is None else special[rows])
        acc.update(tb)
        ctx.trace.add(tb)
    return check.run(ctx)


def _ragged_mask(n, t, rng):
    lengths = rng.integers(t // 2, t + 1, size=n)
    return np.arange(t)[None, :] < lengths[:, None]


def _identity_attention(n, heads, t):
    return np.broadcast_to(np.eye(t, dtype=np.float32), (n, heads, t, t)).copy()


def test_laplacian_is_neumann_on_valid_tokens():
    h = np.arange(5, dtype=float)[None, :, None] ** 2          # x = 0, 1, 4, 9, 16
    mask = np.array([[True, True, True, True, False]])
    lap = chain_laplacian(h, mask)[0, :, 0]
    assert lap.tolist() == [1.0, 2.0, 2.0, -5.0, 0.0]          # ends reflect, padding excluded
    grid = grid_laplacian(np.ones((1, 5, 2)), (2, 2), prefix=1)
    assert np.allclose(grid, 0)                                 # a constant field does not diffuse


def test_smoothing_known_answers():
    same = np.ones((2, 4, 3))
    content = np.ones((2, 4), dtype=bool)
    assert token_similarity(same, content) == pytest.approx([1.0, 1.0])
    assert rank_collapse_residual(same, content) == pytest.approx([0.0, 0.0])
    assert dirichlet_energy(same, content) == pytest.approx([0.0, 0.0])
    basis = np.eye(4)[None]                                     # four orthogonal tokens
    assert token_similarity(basis, content[:1]) == pytest.approx([0.0])
    assert rank_collapse_residual(basis, content[:1]) == pytest.approx([np.sqrt(3 / 4)])
    assert dirichlet_energy(basis, content[:1]) == pytest.approx([6 / 4])      # 3 edges of 2 over 4


def test_smoothing_leaves_out_special_tokens_and_padding():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(6, 7, 5))
    mask = np.ones((6, 7), dtype=bool)
    mask[:, 6] = False
    special = np.zeros_like(mask)
    special[:, 0] = special[:, 5] = True
    h2 = h.copy()
    h2[:, [0, 5, 6]] = 1000.0                                   # special and padded tokens change wildly
    a = _run(FlowSmoothing(), [h, h], mask, special=special)
    b = _run(FlowSmoothing(), [h2, h2], mask, special=special)
    for name in ("token_similarity", "rank_collapse_residual", "dirichlet_energy"):
        assert a.metrics[name] == pytest.approx(b.metrics[name])


def test_identity_blocks_are_explained_exactly():
    rng = np.random.default_rng(1)
    n, t, d = 40, 9, 12
    h0 = rng.normal(size=(n, t, d))
    mask = _ragged_mask(n, t, rng)
    result = _run(FlowPDE(basis_size=8), [h0, h0.copy(), h0.copy()], mask,
                  attentions=[_identity_attention(n, 2, t)] * 2)
    m = result.metrics
    assert m["pde_cos"] == pytest.approx([1.0, 1.0]) and m["identity_cos"] == pytest.approx([1.0, 1.0])
    assert m["pde_r2"] == [None, None]                          # no change: nothing to explain
    assert m["rollout_cos"] == pytest.approx([1.0, 1.0, 1.0])


@pytest.mark.parametrize("coefficient", [0.05, 0.3])
def test_diffusion_coefficient_is_recovered(coefficient):
    """Layers built as H <- H + D Lap(H) with identity attention and k = 8 < d = 16: D to 1e-4 at the default ridge
    (1e-6 without it: tests/unit/test_pde_identified.py), and diffusion carries all the energy and all the R²."""
    rng = np.random.default_rng(2)
    n, t, d, steps = 64, 12, 16, 3
    mask = _ragged_mask(n, t, rng)
    hidden = [rng.normal(size=(n, t, d)) * mask[:, :, None]]
    for _ in range(steps):
        hidden.append(hidden[-1] + coefficient * chain_laplacian(hidden[-1], mask))
    result = _run(FlowPDE(basis_size=8), hidden, mask, attentions=[_identity_attention(n, 2, t)] * steps)
    assert result.evidence["diffusion_coefficient"] == pytest.approx([coefficient] * steps, rel=1e-4)
    assert result.metrics["diffusion"] == result.evidence["diffusion_coefficient"]
    assert min(result.metrics["share_diffusion"]) > 0.99
    assert min(result.metrics["pde_r2"]) > 0.9999
    # without D a reaction still takes the Laplacian's -2h self-term; the neighbours are lost
    assert min(result.metrics["r2_drop_diffusion"]) > 0.3
    assert all(p > i for p, i in zip(result.metrics["pde_cos"], result.metrics["identity_cos"], strict=True))
    assert min(result.metrics["rollout_cos"]) > 0.99


def test_attention_transport_is_attributed_to_attention():
    rng = np.random.default_rng(3)
    n, t, d = 64, 8, 10
    mask = np.ones((n, t), dtype=bool)
    logits = rng.normal(size=(n, 2, t, t)) * 3
    attn = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    h0 = rng.normal(size=(n, t, d))
    h1 = h0 + 0.5 * (np.einsum("bij,bjd->bid", attn.mean(axis=1), h0) - h0)
    result = _run(FlowPDE(basis_size=d), [h0, h1], mask, attentions=[attn])
    assert result.metrics["share_attention"][0] > 0.9
    assert result.metrics["pde_r2"][0] > 0.99
    assert result.metrics["pde_r2"][0] > result.metrics["pointwise_r2"][0]


def test_without_attention_the_attention_terms_are_null_not_zero():
    rng = np.random.default_rng(4)
    h0 = rng.normal(size=(20, 6, 8))
    # a full basis (k = d): outside a truncated basis the Laplacian's -2x self term could mimic a reaction
    result = _run(FlowPDE(basis_size=8), [h0, h0 * 1.1], np.ones((20, 6), dtype=bool))
    m = result.metrics
    assert m["share_attention"] == [None] and m["kernel_attention_cos"] == [None]
    assert m["uniform_attention_cos"] == [None]
    assert m["share_reaction"][0] == pytest.approx(1.0, abs=1e-4)   # a pure rescaling is a reaction


def test_attention_kernel_recovers_a_drift_head_and_beats_uniform():
    """A head that attends one token back (a previous-token head) is a drift of v = -1."""
    rng = np.random.default_rng(5)
    n, t, d = 32, 10, 6
    mask = np.ones((n, t), dtype=bool)
    offset = np.arange(t)[None, :] - np.arange(t)[:, None]
    row = np.exp(-((offset + 1) ** 2) / (2 * 1.0 ** 2))        # on the grid: v = -1, s = 1
    attn = np.broadcast_to(row / row.sum(axis=1, keepdims=True), (n, 1, t, t)).copy()
    h0 = rng.normal(size=(n, t, d))
    result = _run(FlowPDE(basis_size=4), [h0, h0 + 0.1 * rng.normal(size=h0.shape)], mask, attentions=[attn])
    assert result.evidence["kernel_parameters"][0][0]["drift"] == -1.0
    assert result.metrics["kernel_attention_cos"][0] > 0.999
    assert result.metrics["uniform_attention_cos"][0] < 0.9
    example = result.evidence["attention_examples"][0]
    assert len(example["attention"]) == len(example["kernel"])


def test_batched_smoothing_figures_match_their_definitions():
    """The accumulator's one-pass figures agree with the per-figure definitions (chain and patch grid)."""
    from auditor.estimators.smoothing import figures

    rng = np.random.default_rng(6)
    x = rng.normal(size=(5, 10, 7)).astype(np.float32) + 2.0    # an offset: the one-pass sums must not cancel
    content = _ragged_mask(5, 10, rng)
    content[0, 1:] = False                                      # a sequence with one content token: NaN
    for grid, prefix in ((None, 0), ((3, 3), 1)):
        fast = figures(x, content, grid, prefix)
        assert fast["token_similarity"] == pytest.approx(token_similarity(x, content), rel=1e-5, nan_ok=True)
        assert fast["rank_collapse_residual"] == pytest.approx(rank_collapse_residual(x, content), rel=1e-5,
                                                               nan_ok=True)
        assert fast["dirichlet_energy"] == pytest.approx(dirichlet_energy(x, content, grid, prefix), rel=1e-4,
                                                         nan_ok=True)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_kernel_scores_match_explicit_kernel_rows(causal):
    """add_score's contractions give the cosines of the rows kernels() builds, sharp far-drift kernels included."""
    from auditor.estimators.attention_kernel import KernelFit, support

    rng = np.random.default_rng(7)
    b, heads, t = 6, 4, 9
    mask = _ragged_mask(b, t, rng)
    sinks = np.zeros_like(mask)
    sinks[:, 0] = True
    sinks[:3, 0] = False                                       # some sequences have no sink at all
    attn = rng.random(size=(b, heads, t, t)).astype(np.float32)
    attn /= attn.sum(axis=-1, keepdims=True)
    fit = KernelFit(heads=heads, causal=causal)
    fit.choice = [(6.0, 0.5, 0.35), (-1.0, 1.0, 0.0), (0.0, float("inf"), 0.8), (-6.0, 0.5, 1.0)]
    fit.add_score(attn, mask, sinks)
    sup = support(mask, causal)
    a = attn * sup[:, None]
    kern = fit.kernels(mask, sinks)
    cos = (a * kern).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(kern, axis=-1), 1e-12)
    assert fit.score_kernel_sum == pytest.approx((cos * mask[:, None]).sum(axis=(0, 2)), rel=1e-5)
    uniform = sup / np.maximum(sup.sum(-1, keepdims=True), 1)
    cos_u = (a * uniform[:, None]).sum(-1) / np.maximum(
        np.linalg.norm(a, axis=-1) * np.linalg.norm(uniform, axis=-1)[:, None], 1e-12)
    assert fit.score_uniform_sum == pytest.approx((cos_u * mask[:, None]).sum(axis=(0, 2)), rel=1e-5)


def test_kernel_fit_of_several_layers_at_once_matches_one_layer_at_a_time():
    from auditor.estimators.attention_kernel import KernelFit, add_fit_layers

    rng = np.random.default_rng(8)
    b, heads, t = 8, 3, 11
    mask = _ragged_mask(b, t, rng)
    sinks = np.zeros_like(mask)
    sinks[:, 0] = True
    attns = [rng.random(size=(b, heads, t, t)).astype(np.float32) for _ in range(3)]
    attns = [a / a.sum(axis=-1, keepdims=True) for a in attns]
    together = [KernelFit(heads=heads, causal=False) for _ in attns]
    alone = [KernelFit(heads=heads, causal=False) for _ in attns]
    for _ in range(2):                                          # two batches: the row sample stays in step
        add_fit_layers(together, attns, mask, sinks)
        for fit, attn in zip(alone, attns, strict=True):
            fit.add_fit(attn, mask, sinks)
    for x, y in zip(together, alone, strict=True):
        assert x.fit_rows == y.fit_rows
        assert np.allclose(x.fit_sum, y.fit_sum, rtol=1e-5, atol=1e-6)
