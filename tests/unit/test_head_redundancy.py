"""attention.structure's redundant-head rule: relative to the mean head, so it does not depend on the head count."""
import numpy as np
import pytest
from scipy.stats import norm

from auditor.checks.attention import AttentionStructure, _sentences, low_importance_heads
from auditor.messages import render


def _summary(metrics, relative):
    """The check's English summary, as CheckResult renders it from the sentences."""
    return render(_sentences(metrics, {**AttentionStructure.parameters(), "relative_importance": relative}), "en")


def _lognormal_heads(layers: int, heads: int, sigma: float = 1.5) -> np.ndarray:
    """Importance at evenly spaced quantiles of one log-normal: the same shape of distribution at any head count."""
    q = (np.arange(layers * heads) + 0.5) / (layers * heads)
    return np.exp(sigma * norm.ppf(q)).reshape(layers, heads)


def test_flagged_fraction_does_not_depend_on_the_head_count():
    small, large = _lognormal_heads(6, 12), _lognormal_heads(12, 12)      # MiniLM-sized and BERT-base-sized
    found = {n.size: low_importance_heads(n, 0.1) for n in (small, large)}
    fractions = {size: f["prunable_attention_share"] for size, f in found.items()}
    # log-normal(sigma 1.5): P(x < 0.1 * mean) = Phi((ln 0.1 + sigma^2 / 2) / sigma) = 0.216
    expected = norm.cdf((np.log(0.1) + 1.5 ** 2 / 2) / 1.5)
    for size, fraction in fractions.items():
        assert abs(fraction - expected) < 0.02, (size, fraction)     # the quantile grid trims the upper tail
        assert found[size]["redundant_heads"] == round(fraction * size)
    assert abs(fractions[72] - fractions[144]) <= 1 / 72
    # the old rule (below 1% of the total) on the same data: 68% of 72 heads but 83% of 144 heads
    old = {n.size: float(np.mean(n / n.sum() < 0.01)) for n in (small, large)}
    assert old[144] - old[72] > 0.1


def test_threshold_is_strictly_below_relative_times_the_mean():
    importance = np.array([[1.0, 0.5], [18.5, 20.0]])       # mean 10: threshold exactly 0.1 x 10 = 1.0
    found = low_importance_heads(importance, 0.1)
    assert found["evidence"]["importance_threshold"] == 1.0 and found["evidence"]["importance_mean"] == 10.0
    assert found["redundant_heads"] == 1 and found["evidence"]["redundant"] == [[0, 1]]   # 1.0 itself is not below
    assert found["prunable_attention_share"] == 0.25
    just_below = importance.copy()
    just_below[0, 0] = np.nextafter(1.0, 0.0)
    assert low_importance_heads(just_below, 0.1)["evidence"]["redundant"] == [[0, 0], [0, 1]]
    assert low_importance_heads(importance, 0.5)["redundant_heads"] == 2           # threshold 5.0
    assert low_importance_heads(np.zeros((2, 2)), 0.1)["redundant_heads"] == 0    # nothing is below zero


def test_the_template_parameter_and_its_bounds():
    assert AttentionStructure.parameters() == {"relative_importance": 0.1, "min_output_cos": 0.99,
                                               "max_flip_rate": 0.01}
    assert AttentionStructure(relative_importance=0.25).params["relative_importance"] == 0.25
    for bad in (0, -0.1, 1.5, "0.1", True, None):
        with pytest.raises(ValueError, match="relative_importance"):
            low_importance_heads(np.ones((2, 2)), bad)


def test_evidence_states_the_rule_and_the_flops_basis():
    evidence = low_importance_heads(np.array([[1.0, 0.5], [18.5, 20.0]]), 0.1)["evidence"]
    assert evidence["importance_rule"] == "importance below 0.1 x the mean head importance"
    assert evidence["relative_importance"] == 0.1
    assert "2*T^2*d_head" in evidence["compute_share_basis"] and "1/(L*H)" in evidence["compute_share_basis"]
    assert "projections and the softmax are not counted" in evidence["compute_share_basis"]
    assert "ablation" not in evidence           # selecting candidates removes nothing; the check measures that
    assert np.allclose(evidence["importance_relative"], [[0.1, 0.05], [1.85, 2.0]])


def test_summary_states_the_rule_and_claims_no_effect_without_a_measurement():
    metrics = {"entropy": np.full((2, 2), 0.5), "sink_share": np.full((2, 2), 0.4), "mean_entropy": 0.5,
               "redundant_heads": 1, "prunable_attention_share": 0.25}
    text = _summary(metrics, 0.1)
    assert text.endswith("; 1 of 4 heads have gradient importance below 0.1 x the mean head (25% of attention "
                         "FLOPs)")
    assert "little effect" not in text and "1%" not in text
    assert "0.25 x the mean head" in _summary(metrics, 0.25)
    assert "importance" not in _summary({**metrics, "redundant_heads": None}, 0.1)
