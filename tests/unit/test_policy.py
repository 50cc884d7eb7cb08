"""Template rules at, just below and just above their thresholds; info and not-applicable outcomes."""
import pytest

from auditor.checks.conditions import REDUCERS, Condition, parse_condition
from auditor.findings import check_status, evaluate, verdict
from auditor.ratings import rate, with_trend

EPS = 1e-9
# a list whose every reducer gives 0.5 is impossible, so each case builds a list reducing to `x`
LISTS = {
    "min": lambda x: [x + 1, x, x + 2],
    "max": lambda x: [x - 1, x, x - 2],
    "mean": lambda x: [x - 0.5, x + 0.5],
    "last": lambda x: [9.0, x],
    "first": lambda x: [x, 9.0],
    "any_layer": None,          # depends on the direction: built in the test
    "drop_from_peak": None,     # relative: built in the test
}


def _series(reduce: str, kind: str, x: float) -> list[float]:
    if reduce == "any_layer":   # the worst layer for the direction is x
        return [x + 1, x, x + 2] if kind == "below" else [x - 1, x, x - 2]
    if reduce == "drop_from_peak":
        return [1.0, 2.0, 2.0 * (1 - x)]   # (peak - last) / peak == x
    return LISTS[reduce](x)


@pytest.mark.parametrize("reduce", sorted(REDUCERS))
@pytest.mark.parametrize("kind", ["below", "above"])
@pytest.mark.parametrize("which", ["warn", "fail", "info"])
def test_every_reducer_at_and_either_side_of_a_threshold(reduce, kind, which):
    threshold = 0.25          # exactly representable, so "at" is exactly at
    rule = Condition(kind, "m", reduce=reduce, **{which: threshold})
    crossed = which                      # the outcome when the threshold is crossed
    inside = threshold + EPS * 1e3 if kind == "below" else threshold - EPS * 1e3
    outside = threshold - EPS * 1e3 if kind == "below" else threshold + EPS * 1e3
    assert rule.evaluate({"m": _series(reduce, kind, threshold)}).status == "pass"      # at: not crossed
    assert rule.evaluate({"m": _series(reduce, kind, inside)}).status == "pass"
    assert rule.evaluate({"m": _series(reduce, kind, outside)}).status == crossed


@pytest.mark.parametrize("kind, values", [("below", (0.06, 0.05, 0.049, 0.01, 0.0099)),
                                          ("above", (7.9, 8, 8.1, 50, 50.1))])
def test_scalar_between_warn_and_fail(kind, values):
    warn, fail = (0.05, 0.01) if kind == "below" else (8, 50)
    rule = Condition(kind, "m", warn=warn, fail=fail)
    assert [rule.evaluate({"m": v}).status for v in values] == ["pass", "pass", "warn", "warn", "fail"]


def test_a_variant_rule_reads_its_variant_only():
    rule = Condition("below", "m", warn=0.9, fail=0.5, variant="mask@0.10")
    metrics = {"m": {"mask@0.10": 0.6, "mask@0.20": 0.1}}
    assert rule.evaluate(metrics).status == "warn"


@pytest.mark.parametrize("value", [None, [None, None], [[None], [None, None]], {"v": None}])
def test_a_null_metric_is_not_applicable(value):
    rule = Condition("below", "m", warn=0.1, reduce="min", variant="v" if isinstance(value, dict) else None)
    outcome = rule.evaluate({"m": value})
    assert outcome.status == "not_applicable"
    assert "not computed" in outcome.message


def test_not_applicable_and_info_never_change_a_check_or_verdict():
    from auditor.checks.base import CheckResult
    from auditor.templates import CheckSpec, Template

    spec = CheckSpec("attention.structure", {}, (
        Condition("above", "prunable_attention_share", info=0.2, finding="opportunity.prunable_heads"),
        Condition("below", "head_importance", warn=0.1, reduce="min"),
        Condition("below", "mean_entropy", warn=0.1),
    ))
    template = Template("t", "1", "", (spec,), "0" * 64, "test", "")
    result = CheckResult("attention.structure", "ok", "s",
                         metrics={"prunable_attention_share": 0.4, "head_importance": None, "mean_entropy": 0.5})
    found = evaluate(template, [result])
    assert [f.severity for f in found] == ["info", "info", "pass"]
    assert found[0].key == "opportunity.prunable_heads" and "efficiency" in found[0].title.lower()
    assert found[1].key == "condition.not_applicable" and found[1].meaning["ja"]
    assert check_status(result, found) == "pass"
    assert verdict([check_status(result, found)]) == "pass"


@pytest.mark.parametrize("data, problem", [
    ({"condition": "above", "metric": "m", "info": 0.2, "warn": 0.5}, "stands alone"),
    ({"condition": "below", "metric": "m", "warn": 10**400}, "sensible size"),
    ({"condition": "below", "metric": "m", "warn": 1e300}, "sensible size"),
    ({"condition": "below", "metric": "m", "warn": True}, "must be a number"),
    ({"condition": "below", "metric": "m", "warn": [0.1]}, "must be a number"),
    ({"condition": "below", "metric": "m", "warn": 0.1, "variant": 3}, "variant must be a string"),
    ({"condition": "below", "metric": "m", "warn": 0.1, "clauses": "EU"}, "clauses must be a list"),
])
def test_hostile_or_wrong_rules_are_refused(data, problem):
    with pytest.raises(ValueError, match=problem):
        parse_condition(data, "checks[0].conditions[0]")


def test_ratings_take_the_worst_check_and_ignore_skips():
    ratings = rate([{"id": "flow.pde", "status": "warn"}, {"id": "flow.smoothing", "status": "pass"},
                    {"id": "gradients.flow", "status": "skipped"}, {"id": "attention.structure", "status": "error"},
                    {"id": "perturbation.sensitivity", "status": "fail"}])
    assert ratings["flow"]["rating"] == "warn"
    assert ratings["trainability"]["rating"] == "not_assessed"
    assert ratings["transparency"]["rating"] == "warn"        # an error counts as a warning
    assert ratings["robustness"]["rating"] == "fail"
    assert ratings["retention"]["checks"] == []


def test_trend_against_the_previous_audit():
    before = rate([{"id": "flow.pde", "status": "fail"}, {"id": "perturbation.sensitivity", "status": "pass"},
                   {"id": "gradients.flow", "status": "pass"}])
    now = with_trend(rate([{"id": "flow.pde", "status": "pass"}, {"id": "perturbation.sensitivity", "status": "warn"},
                           {"id": "gradients.flow", "status": "pass"}]), before)
    assert (now["flow"]["trend"], now["robustness"]["trend"], now["trainability"]["trend"]) == ("better", "worse", "same")
    assert now["retention"]["trend"] is None


def test_folded_japanese_keeps_word_spaces_between_ascii_words():
    from auditor.text import fold

    assert fold("純粋な\n  注意は Dong et al. 2021 と NIST AI RMF、ISO/IEC 42001、0 = すべて") == \
        "純粋な注意は Dong et al. 2021 と NIST AI RMF、ISO/IEC 42001、0 = すべて"
    assert fold("  plain   English\ntext ") == "plain English text"
    assert fold(None) == ""
