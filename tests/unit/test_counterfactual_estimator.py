"""Known answers for the counterfactual estimator (issue 19): layer shift, output agreement, first divergence."""
from __future__ import annotations

import math

import numpy as np
import pytest

from auditor.estimators.counterfactual import (
    OVERALL,
    Estimate,
    first_divergence,
    layer_shift,
    output_agreement,
    random_partners,
)

LAYERS, ONSET, DIM = 6, 3, 96
RANDOM_DISTANCE = 2.0
ATTRS = ("gender", "age", "religion")


def synthetic(pairs: int = 60, seed: int = 1) -> tuple[np.ndarray, np.ndarray, list[str], list[str], np.ndarray]:
    """a-members at mutually orthogonal points D/sqrt(2) from the origin (any two are exactly D apart);
    the b-member of a `gender` pair is moved by a known vector from layer ONSET on, every other b-member
    equals its a-member. Returns h_a, h_b, attributes, domains and the gender pairs' move lengths."""
    rng = np.random.default_rng(seed)
    h_a = np.zeros((LAYERS, pairs, DIM))
    for i in range(pairs):
        h_a[:, i, i] = RANDOM_DISTANCE / math.sqrt(2.0)
    h_b = h_a.copy()
    attributes = [ATTRS[i % 3] for i in range(pairs)]
    domains = ["credit" if i % 2 else "fraud" for i in range(pairs)]
    lengths = np.zeros(pairs)
    for i in range(pairs):
        if attributes[i] == "gender":
            lengths[i] = rng.uniform(0.5, 1.5)
            direction = rng.normal(size=DIM - pairs)
            h_b[ONSET:, i, pairs:] += lengths[i] * direction / np.linalg.norm(direction)
    return h_a, h_b, attributes, domains, lengths


def test_shift_is_the_analytic_ratio_from_the_onset_layer_and_zero_elsewhere():
    h_a, h_b, attributes, domains, lengths = synthetic()
    result = layer_shift(h_a, h_b, attributes, domains, seed=7)
    gender = np.array(attributes) == "gender"
    expected = lengths[gender].mean() / RANDOM_DISTANCE
    assert np.allclose(result.random_distance, RANDOM_DISTANCE, rtol=1e-9)
    for layer in range(LAYERS):
        est = result.by_attribute["gender"][layer]
        if layer < ONSET:
            assert est.value == 0.0 and est.low == 0.0 and est.high == 0.0
        else:
            assert est.value == pytest.approx(expected, rel=0.01)
            assert est.low < est.value < est.high and est.low > 0.2
            overall = result.overall[layer]
            assert overall.value == pytest.approx(lengths.sum() / (len(lengths) * RANDOM_DISTANCE), rel=0.01)
        for other in ("age", "religion"):
            quiet = result.by_attribute[other][layer]
            assert quiet.value == 0.0 and quiet.low <= 0.0 <= quiet.high
    assert result.by_attribute["gender"][ONSET].n == int(gender.sum())
    assert first_divergence(result.by_attribute, threshold=0.1) == ("gender", ONSET)
    assert first_divergence(result.by_attribute, threshold=expected * 2) is None


def test_shift_is_deterministic_given_the_seed():
    h_a, h_b, attributes, domains, _ = synthetic()
    first = layer_shift(h_a, h_b, attributes, domains, seed=3)
    assert first == layer_shift(h_a, h_b, attributes, domains, seed=3)
    assert first.as_dict()["by_attribute"]["gender"][ONSET]["value"] == first.by_attribute["gender"][ONSET].value


def test_a_model_that_ignores_the_attribute_shows_nothing():
    h_a, _, attributes, domains, _ = synthetic()
    result = layer_shift(h_a, h_a.copy(), attributes, domains, seed=0)
    for est in (*result.overall, *[e for per in result.by_attribute.values() for e in per]):
        assert est.value == 0.0 and est.low <= 0.0 <= est.high and est.high < 1e-12
    assert first_divergence(result.by_attribute, threshold=0.0) is None
    logits = np.random.default_rng(0).normal(size=(len(attributes), 4))
    out = output_agreement(logits, logits.copy(), attributes, seed=0)
    for key in (OVERALL, *ATTRS):
        assert out.flip_rate[key].value == 0.0 and out.flip_rate[key].high == 0.0
        assert out.kl[key].value == pytest.approx(0.0, abs=1e-12) and out.kl[key].high == pytest.approx(0.0, abs=1e-12)
        assert out.cosine[key].value == pytest.approx(1.0, abs=1e-12) and out.cosine[key].low == pytest.approx(1.0, abs=1e-12)


def test_output_kl_cosine_and_flips_known_answers():
    p = np.array([0.5, 0.3, 0.2])
    q = np.array([0.1, 0.3, 0.6])                          # KL(p||q) 0.585 != KL(q||p) 0.498
    kl = float(np.sum(p * np.log(p / q)))
    cos = float(p @ q / (np.linalg.norm(p) * np.linalg.norm(q)))
    attributes = ["age"] * 4 + ["gender"] * 6
    out_a = np.tile(p, (10, 1))
    out_b = np.tile(p, (10, 1))
    out_b[:3] = q                                          # three age pairs move, and all three flip
    result = output_agreement(out_a, out_b, attributes, seed=5, probabilities=True)
    assert result.kl["age"].value == pytest.approx(3 * kl / 4, rel=1e-9)
    assert result.kl[OVERALL].value == pytest.approx(3 * kl / 10, rel=1e-9)
    assert result.cosine["age"].value == pytest.approx((3 * cos + 1) / 4, rel=1e-9)
    assert result.flip_rate["age"].value == 0.75 and result.flip_rate[OVERALL].value == 0.3
    assert result.flip_rate["gender"].value == 0.0 and result.kl["gender"].value == pytest.approx(0.0, abs=1e-12)
    assert result.flip_rate[OVERALL].n == 10 and result.kl["age"].low <= 3 * kl / 4 <= result.kl["age"].high
    # the same distributions given as logits: softmax(log p) = p
    logits = output_agreement(np.log(out_a), np.log(out_b), attributes, seed=5)
    assert logits.kl["age"].value == pytest.approx(3 * kl / 4, rel=1e-9)
    assert logits.flip_rate == result.flip_rate


def test_random_partners_stay_in_domain_and_never_pair_a_probe_with_itself():
    domains = ["credit"] * 9 + ["fraud"] * 7 + ["hiring"]
    probes = [f"frame{i // 3}" for i in range(17)]        # three pairs share each a-member
    partners = random_partners(domains, seed=11, probe_ids=probes)
    assert partners[16] == -1                               # alone in its domain
    for i, j in enumerate(partners[:16]):
        assert domains[j] == domains[i] and probes[j] != probes[i]
    assert np.array_equal(partners, random_partners(domains, seed=11, probe_ids=probes))
    plain = random_partners(domains, seed=11)
    assert sorted(plain[:9]) == list(range(9)) and all(plain[i] != i for i in range(16))


def test_pairs_sharing_an_a_member_do_not_shrink_the_random_distance():
    # three pairs per probe: without probe ids a partner could be the same sentence (distance 0)
    h_a, h_b, attributes, domains, lengths = synthetic(pairs=60)
    groups = np.arange(60) // 3
    h_a = h_a[:, groups * 3]                                # pairs 3k, 3k+1, 3k+2 share pair 3k's a-member
    h_b = h_a.copy()
    h_b[ONSET:, :, -1] += 1.0                                # every pair moves by exactly 1
    doms = [domains[3 * g] for g in groups]
    result = layer_shift(h_a, h_b, attributes, doms, seed=2, probe_ids=list(groups))
    assert np.allclose(result.random_distance, RANDOM_DISTANCE)
    assert result.overall[ONSET].value == pytest.approx(1.0 / RANDOM_DISTANCE, rel=1e-9)


def test_first_divergence_reads_the_lower_bound():
    def est(value: float, low: float) -> Estimate:
        return Estimate(value, low, value + 0.1, 10)

    shifts = {"age": [est(0.05, 0.0), est(0.3, 0.05), est(0.4, 0.25)],
              "religion": [est(0.0, 0.0), est(0.2, 0.15), est(0.5, 0.3)]}
    # age's point value is above 0.1 at layer 1 but its interval is not; religion's is
    assert first_divergence(shifts, 0.1) == ("religion", 1)
    assert first_divergence(shifts, 0.2) == ("religion", 2)   # both above at layer 2: the larger lower bound
    assert first_divergence(shifts, 0.3) is None
    assert first_divergence({}, 0.1) is None


def test_shape_errors_are_refused():
    h_a, h_b, attributes, domains, _ = synthetic()
    with pytest.raises(ValueError):
        layer_shift(h_a, h_b[:, :-1], attributes, domains, seed=0)
    with pytest.raises(ValueError):
        output_agreement(np.zeros((3, 2)), np.zeros((3, 2)), ["age"] * 2, seed=0)
