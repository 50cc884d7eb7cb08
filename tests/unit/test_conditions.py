"""Conditions and reducers: the template's rules as data."""
import pytest

from auditor.checks.conditions import Condition, parse_condition, worst
from auditor.messages import render


@pytest.mark.parametrize("reduce, expected, layer", [
    ("min", 0.1, 2), ("max", 0.9, 0), ("mean", 0.5, None), ("last", 0.5, 3), ("first", 0.9, 0),
    ("any_layer", 0.1, 2),
])
def test_reducers_on_a_layer_list(reduce, expected, layer):
    outcome = Condition("below", "m", warn=0.05, reduce=reduce).evaluate({"m": [0.9, 0.5, 0.1, 0.5]})
    assert outcome.value == pytest.approx(expected)
    assert outcome.layer == layer


def test_drop_from_peak_is_relative_fall_below_the_peak():
    outcome = Condition("above", "m", warn=0.2, fail=0.5, reduce="drop_from_peak").evaluate({"m": [1, 2, 4, 1]})
    assert outcome.value == pytest.approx(0.75)
    assert outcome.status == "fail"


@pytest.mark.parametrize("value, status", [(0.5, "pass"), (0.04, "warn"), (0.005, "fail"), (0.05, "pass")])
def test_below_thresholds(value, status):
    assert Condition("below", "m", warn=0.05, fail=0.01).evaluate({"m": value}).status == status


@pytest.mark.parametrize("value, status", [(1, "pass"), (9, "warn"), (60, "fail")])
def test_above_thresholds(value, status):
    assert Condition("above", "m", warn=8, fail=50).evaluate({"m": value}).status == status


def test_any_layer_takes_the_worst_layer_for_the_direction():
    cond = Condition("above", "m", warn=1, reduce="any_layer")
    outcome = cond.evaluate({"m": [0.5, 3.0, 2.0]})
    assert (outcome.value, outcome.layer, outcome.status) == (3.0, 1, "warn")


def test_nested_per_head_lists_are_flattened():
    outcome = Condition("below", "m", warn=0.1, reduce="min").evaluate({"m": [[0.5, 0.2], [0.05, 0.9]]})
    assert (outcome.value, outcome.layer, outcome.status) == (0.05, 1, "warn")


def test_variant_metric_needs_its_key():
    cond = Condition("below", "m", warn=0.9, variant="mask@0.10")
    assert cond.evaluate({"m": {"mask@0.10": 0.5}}).status == "warn"
    assert cond.evaluate({"m": {"other": 0.5}}).status == "error"


@pytest.mark.parametrize("metrics", [{}, {"m": [1.0, 2.0]}, {"m": "text"}])
def test_problems_are_errors_never_exceptions(metrics):
    # the last case is a list without a reducer
    outcome = Condition("below", "m", warn=0.1).evaluate(metrics)
    assert outcome.status == "error"
    assert outcome.message.startswith("m could not be evaluated: ")
    # the reason is a catalogue sentence (auditor/messages.py), so it reads in Japanese too
    assert outcome.sentence is not None and render(outcome.sentence, "en") == outcome.message
    assert render(outcome.sentence, "ja").startswith("m を評価できませんでした：")


def test_nulls_inside_a_list_are_ignored():
    assert Condition("below", "m", warn=0.1, reduce="min").evaluate({"m": [None, 0.05]}).value == 0.05


@pytest.mark.parametrize("data, problem", [
    ({"condition": "near", "metric": "m", "warn": 1}, "condition must be one of"),
    ({"condition": "below", "warn": 1}, "needs a metric"),
    ({"condition": "below", "metric": "m"}, "warn, fail or info threshold"),
    ({"condition": "below", "metric": "m", "warn": "high"}, "must be a number"),
    ({"condition": "below", "metric": "m", "warn": 0.1, "fail": 0.5}, "milder"),
    ({"condition": "above", "metric": "m", "warn": 5, "fail": 1}, "milder"),
    ({"condition": "below", "metric": "m", "warn": 1, "reduce": "median"}, "unknown reducer"),
    ({"condition": "below", "metric": "m", "warn": 1, "colour": "red"}, "unknown key"),
    ({"condition": "below", "metric": "m", "warn": float("nan")}, "finite"),
])
def test_parse_refuses_bad_conditions(data, problem):
    with pytest.raises(ValueError, match=problem):
        parse_condition(data, "checks[0].conditions[0]")


def test_worst_orders_statuses():
    assert worst([]) == "pass"
    assert worst(["pass", "warn"]) == "warn"
    assert worst(["warn", "error"]) == "error"
    assert worst(["error", "fail", "pass"]) == "fail"


# --- intervals (issue 14): how a rule decides when the check gave a 95% interval ---

_R2 = {"pde_r2": [0.3, 0.1281, 0.5]}
_R2_CI = {"pde_r2": {"ci_low": [0.2, 0.09, 0.4], "ci_high": [0.4, 0.16, 0.6]}}


def test_an_interval_across_the_threshold_is_inconclusive_by_default():
    rule = Condition("below", "pde_r2", warn=0.10, reduce="any_layer")
    outcome = rule.evaluate(_R2, None, _R2_CI)
    assert outcome.status == "inconclusive" and outcome.layer == 1 and outcome.straddled == 0.10
    assert outcome.message == ("pde_r2 (any_layer) = 0.1281 (95% CI 0.09 to 0.16) straddles the threshold 0.1: "
                               "add probes to decide")
    assert render(outcome.sentence, "ja") == ("pde_r2（最も厳しい層） = 0.1281（95%信頼区間 0.09〜0.16）は閾値 0.1 を"
                                              "またいでいます。判定するにはプローブを増やしてください。")
    # without an interval the same rule decides on the value, as before
    assert rule.evaluate(_R2).status == "pass" and rule.evaluate(_R2).message == "pde_r2 (any_layer) = 0.1281"


def test_the_interval_is_taken_at_the_layer_the_reducer_picks():
    rule = Condition("below", "pde_r2", warn=0.10, reduce="last")    # layer 2: 0.5 in [0.4, 0.6], clear of 0.1
    outcome = rule.evaluate(_R2, None, _R2_CI)
    assert outcome.status == "pass" and outcome.interval == (0.4, 0.6)
    assert outcome.message == "pde_r2 (last) = 0.5 (95% CI 0.4 to 0.6)"
    # a reducer that mixes layers has no one layer: decided on the value, no interval shown
    assert Condition("below", "pde_r2", warn=0.10, reduce="mean").evaluate(_R2, None, _R2_CI).interval is None


@pytest.mark.parametrize("mode, status", [("point", "pass"), ("pessimistic", "warn"), ("interval", "inconclusive")])
def test_decide_on_point_and_pessimistic(mode, status):
    rule = Condition("below", "pde_r2", warn=0.10, reduce="any_layer")
    assert rule.evaluate(_R2, None, _R2_CI, mode).status == status
    # a rule's own decide_on wins over the template's
    assert Condition("below", "pde_r2", warn=0.10, reduce="any_layer", decide_on=mode) \
        .evaluate(_R2, None, _R2_CI, "interval").status == status


def test_pessimistic_takes_the_bound_on_the_unsafe_side():
    above = Condition("above", "amp", warn=3.0, fail=10.0)
    assert above.evaluate({"amp": 2.0}, None, {"amp": {"ci_low": 1.5, "ci_high": 3.2}}, "pessimistic").status == "warn"
    assert above.evaluate({"amp": 2.0}, None, {"amp": {"ci_low": 1.5, "ci_high": 2.9}}, "pessimistic").status == "pass"
    below = Condition("below", "cos", warn=0.5)
    outcome = below.evaluate({"cos": 0.6}, None, {"cos": {"ci_low": 0.45, "ci_high": 0.7}}, "pessimistic")
    assert outcome.status == "warn"
    assert outcome.message == "cos = 0.6 (95% CI 0.45 to 0.7; decided on its pessimistic bound 0.45)"


def test_an_interval_between_warn_and_fail_is_also_undecided():
    rule = Condition("below", "cos", warn=0.5, fail=0.25)
    outcome = rule.evaluate({"cos": 0.3}, None, {"cos": {"ci_low": 0.2, "ci_high": 0.4}})
    assert outcome.status == "inconclusive" and outcome.straddled == 0.25
    # clear of both thresholds: decided, with the interval beside the value
    clear = rule.evaluate({"cos": 0.3}, None, {"cos": {"ci_low": 0.28, "ci_high": 0.4}})
    assert clear.status == "warn" and clear.message == "cos = 0.3 (95% CI 0.28 to 0.4)"


def test_variant_intervals_and_info_rules():
    rule = Condition("above", "rho", warn=0.8, variant="entropy")
    ci = {"rho": {"entropy": {"ci_low": 0.7, "ci_high": 0.9}}}
    assert rule.evaluate({"rho": {"entropy": 0.85}}, None, ci).status == "inconclusive"
    # an efficiency opportunity never changes a verdict: decided on the value, interval shown
    info = Condition("above", "share", info=0.2)
    outcome = info.evaluate({"share": 0.25}, None, {"share": {"ci_low": 0.1, "ci_high": 0.3}})
    assert outcome.status == "info" and "95% CI 0.1 to 0.3" in outcome.message


def test_decide_on_is_checked_when_the_rule_is_read():
    with pytest.raises(ValueError, match=r"decide_on must be one of interval, point, pessimistic, not 'median'"):
        parse_condition({"condition": "below", "metric": "m", "warn": 1, "decide_on": "median"}, "here")
    assert parse_condition({"condition": "below", "metric": "m", "warn": 1, "decide_on": "point"}, "h").decide_on == "point"


def test_an_unknown_decide_on_refuses_the_template_in_one_line(tmp_path, capsys):
    from auditor.cli import main

    path = tmp_path / "t.yaml"
    path.write_text("name: t\nversion: '1'\ndecide_on: median\nchecks:\n- id: flow.representation\n", encoding="utf-8")
    assert main(["audit", str(tmp_path), "--template", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "auditor: template t.yaml: decide_on must be one of interval, point, pessimistic, not 'median'"
