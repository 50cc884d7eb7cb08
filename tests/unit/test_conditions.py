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
