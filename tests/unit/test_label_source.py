"""Label provenance: a rule that rests on the model's own predictions as labels says so, and a template
that requires labels does not decide on them (issue 14, circular labels)."""
import pytest

from auditor.checks.base import CheckResult
from auditor.checks.conditions import Condition
from auditor.findings import CIRCULAR_LABELS, LABELS_NOTE, audit_verdict, check_status, evaluate
from auditor.presentation import missing_reason
from auditor.templates import CheckSpec, Template
from auditor.views import FindingView

CHECK = "bottleneck.information_plane"
SEPARATION = Condition("below", "probe_accuracy_over_chance", reduce="last", warn=0.6, fail=0.3,
                       finding="bottleneck.final_layer_separation")
DROP = Condition("above", "task_information_drop", warn=0.15, fail=0.35, finding="bottleneck.task_information_lost")


def _template(requires_labels: bool) -> Template:
    spec = CheckSpec(CHECK, conditions=(SEPARATION, DROP), required=True, requires_labels=requires_labels)
    return Template(name="t", version="1", description="", checks=(spec,), sha256="0" * 64, source="test", text="")


def _plane(source: str, drop: float = 0.2, **evidence) -> CheckResult:
    metrics = {"probe_accuracy_over_chance": [0.1, 0.5, 0.9], "task_information_drop": drop}
    return CheckResult(CHECK, "ok", "ran", metrics=metrics, evidence={"label_source": source, **evidence})


def test_requires_labels_makes_every_rule_on_the_models_own_predictions_inconclusive():
    result = _plane("model_predictions")
    found = evaluate(_template(True), [result])
    assert [(f.metric, f.severity, f.key) for f in found] == [
        ("probe_accuracy_over_chance", "inconclusive", "evidence.insufficient"),
        ("task_information_drop", "inconclusive", "evidence.insufficient")]
    assert found[0].detail == f"probe_accuracy_over_chance (last) is not decided: {CIRCULAR_LABELS}"
    assert "circular" in found[1].detail and "label column" in found[1].detail
    assert check_status(result, found) == "inconclusive" and audit_verdict([result], found) == "inconclusive"


def test_requires_labels_decides_as_usual_on_probe_labels():
    result = _plane("probe_labels")
    found = evaluate(_template(True), [result])
    assert [(f.metric, f.severity) for f in found] == [("probe_accuracy_over_chance", "pass"),
                                                      ("task_information_drop", "warn")]
    assert not any(f.detail.endswith(LABELS_NOTE) for f in found)
    assert audit_verdict([result], found) == "warn"


def test_without_requires_labels_the_rule_decides_and_says_which_labels_were_used():
    found = evaluate(_template(False), [_plane("model_predictions")])
    assert [(f.metric, f.severity) for f in found] == [("probe_accuracy_over_chance", "pass"),
                                                      ("task_information_drop", "warn")]
    assert found[1].detail == ("task_information_drop = 0.2; warn above 0.15, fail above 0.35 "
                               "(warning threshold crossed) (labels: the model's own predictions)")


def test_only_the_figures_that_depend_on_labels_are_affected():
    # attention.structure: only head importance comes from the (label-dependent) gradient task
    result = _plane("model_predictions", label_metrics=["task_information_drop"])
    found = evaluate(_template(True), [result])
    assert [(f.metric, f.severity) for f in found] == [("probe_accuracy_over_chance", "pass"),
                                                      ("task_information_drop", "inconclusive")]
    assert not found[0].detail.endswith(LABELS_NOTE)


def test_an_existing_thin_evidence_reason_and_the_circular_one_both_end_inconclusive():
    thin = {"task_information_drop": "only 3 probes were held out"}
    found = evaluate(_template(True), [_plane("model_predictions", insufficient=thin)])
    assert all(f.severity == "inconclusive" for f in found)


def test_the_labels_note_and_the_circular_reason_read_in_japanese():
    (_, drop) = evaluate(_template(False), [_plane("model_predictions")])
    ja = drop.text("ja")
    assert ja.startswith("task_information_drop = 0.2。") and ja.endswith("ラベルにはモデル自身の予測を用いました。")
    assert "labels" not in ja
    assert drop.text("en") == drop.detail
    (circular, _) = evaluate(_template(True), [_plane("model_predictions")])
    view = FindingView.from_json({**circular.to_dict(), "id": 1})
    reason = missing_reason(view, "ja")
    assert "モデル自身の予測" in reason and "ラベル列" in reason and "circular" not in reason


@pytest.mark.parametrize("value", ["'yes'", "1", "null"])
def test_a_requires_labels_that_is_not_a_boolean_is_refused(tmp_path, value):
    from auditor.errors import BadInput
    from auditor.templates import load_template

    path = tmp_path / "mine.yaml"
    path.write_text(f"name: mine\nversion: 1\nchecks:\n  - id: {CHECK}\n    requires_labels: {value}\n")
    with pytest.raises(BadInput, match="mine.yaml") as refused:
        load_template(str(path))
    assert f"checks[0] ({CHECK}): requires_labels must be true or false" in str(refused.value)
    path.write_text(f"name: mine\nversion: 1\nchecks:\n  - id: {CHECK}\n    requires_labels: true\n")
    assert load_template(str(path)).checks[0].requires_labels is True


def test_only_the_high_risk_template_requires_labels():
    from auditor.templates import load_template

    wanted = {"eu-ai-act-high-risk": {CHECK}, "standard": set(), "quick": set()}
    for name, checks in wanted.items():
        assert {c.id for c in load_template(name).checks if c.requires_labels} == checks, name
