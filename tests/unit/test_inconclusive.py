"""The fourth verdict: what makes an audit inconclusive, and gates that never pass it."""
import numpy as np
import pytest

from auditor.checks.base import CheckResult
from auditor.checks.bottleneck import insufficient_evidence
from auditor.checks.conditions import Condition
from auditor.findings import AUDIT_SCOPE, audit_verdict, check_status, evaluate
from auditor.ratings import rate, with_trend
from auditor.splits import MIN_SCORED, too_few_scored
from auditor.status import Status, fails_gate, verdict_of, worst
from auditor.templates import CheckSpec, Template

RULE = Condition("below", "m", warn=0.5, fail=0.2, finding="flow.idle_block")


def _template(*specs: CheckSpec, min_probes: int = 0) -> Template:
    return Template(name="t", version="1", description="", checks=specs, sha256="0" * 64, source="test", text="",
                    min_probes=min_probes)


def _ok(check_id: str, value: float, **evidence) -> CheckResult:
    return CheckResult(check_id, "ok", "ran", metrics={"m": value}, evidence=evidence)


def test_one_order_for_every_status():
    assert [s.value for s in sorted(Status, key=lambda s: s.rank) if s.rank > 0] == \
        ["warn", "error", "inconclusive", "fail"]
    assert worst(["pass", "warn", "inconclusive"]) is Status.INCONCLUSIVE
    assert worst(["inconclusive", "fail"]) is Status.FAIL
    assert worst(["info", "skipped", "not_applicable"]) is Status.PASS
    assert verdict_of(["pass", "error"]) is Status.WARN          # a non-required check that raised
    assert f"{Status.INCONCLUSIVE}" == "inconclusive" and str(Status.FAIL) == "fail"


@pytest.mark.parametrize("verdict, on_warn, on_fail", [
    ("pass", False, False), ("warn", True, False), ("inconclusive", True, True), ("fail", True, True),
    (None, True, True)])
def test_a_gate_never_passes_what_was_not_measured(verdict, on_warn, on_fail):
    assert fails_gate(verdict, "warn") is on_warn
    assert fails_gate(verdict, "fail") is on_fail
    assert fails_gate(verdict, None) is False


def test_a_required_check_that_was_skipped_makes_the_audit_inconclusive():
    template = _template(CheckSpec("a", conditions=(RULE,)), CheckSpec("b", conditions=(RULE,), required=True))
    results = [_ok("a", 0.9), CheckResult.skipped("b", "the model exposes no attention maps")]
    found = evaluate(template, results)
    missing = [f for f in found if f.check_id == "b"]
    assert [(f.severity, f.key) for f in missing] == [("inconclusive", "check.required_missing")]
    assert "no attention maps" in missing[0].detail and missing[0].action and missing[0].action_ja
    assert check_status(results[1], found) == "inconclusive"
    assert audit_verdict(results, found) == "inconclusive"
    # the same skip without `required` is a note and the measured check decides
    optional = _template(CheckSpec("a", conditions=(RULE,)), CheckSpec("b", conditions=(RULE,)))
    found = evaluate(optional, results)
    assert check_status(results[1], found) == "skipped" and audit_verdict(results, found) == "pass"


def test_a_required_check_that_raised_is_inconclusive_and_a_measured_failure_still_fails():
    template = _template(CheckSpec("a", conditions=(RULE,)), CheckSpec("b", required=True))
    results = [_ok("a", 0.9), CheckResult.error("b", "RuntimeError: boom")]
    assert audit_verdict(results, evaluate(template, results)) == "inconclusive"
    results[0] = _ok("a", 0.1)                                       # below the fail threshold
    assert audit_verdict(results, evaluate(template, results)) == "fail"


def test_a_figure_on_insufficient_evidence_is_not_decided():
    template = _template(CheckSpec("a", conditions=(RULE,)))
    thin = _ok("a", 0.9, insufficient={"m": "only 4 probes were held out"})
    (finding,) = evaluate(template, [thin])
    assert finding.severity == "inconclusive" and finding.key == "evidence.insufficient"
    assert "only 4 probes were held out" in finding.detail
    assert audit_verdict([thin], [finding]) == "inconclusive"
    other = _ok("a", 0.9, insufficient={"another_metric": "thin"})   # marks on other figures do not leak
    assert [f.severity for f in evaluate(template, [other])] == ["pass"]


def test_too_few_probes_and_no_probes_fed_are_audit_wide_findings():
    template = _template(CheckSpec("a", conditions=(RULE,)), min_probes=64)
    results = [_ok("a", 0.9)]
    found = evaluate(template, results, probe_count=63)
    wide = [f for f in found if f.check_id == AUDIT_SCOPE]
    assert [f.key for f in wide] == ["evidence.too_few_probes"] and "63 probes" in wide[0].detail
    assert "at least 64" in wide[0].detail and audit_verdict(results, found) == "inconclusive"
    assert audit_verdict(results, evaluate(template, results, probe_count=64)) == "pass"
    found = evaluate(template, results, probe_count=64, probes_fed=False)
    assert [f.key for f in found if f.check_id == AUDIT_SCOPE] == ["evidence.nothing_measured"]
    assert audit_verdict(results, found) == "inconclusive"


def test_a_dimension_with_missing_evidence_is_inconclusive_and_has_no_trend():
    now = rate([{"id": "flow.representation", "status": "pass"}, {"id": "flow.smoothing", "status": "inconclusive"},
                {"id": "gradients.flow", "status": "skipped"}, {"id": "attention.structure", "status": "error"}])
    assert now["flow"]["rating"] == "inconclusive"
    assert now["trainability"]["rating"] == "not_assessed" and now["transparency"]["rating"] == "warn"
    before = rate([{"id": "flow.representation", "status": "warn"}, {"id": "attention.structure", "status": "pass"}])
    trended = with_trend(now, before)
    assert trended["flow"]["trend"] is None and trended["transparency"]["trend"] == "worse"


class _Plane:
    def __init__(self, chance: float, last_accuracy: float | None = 0.8):
        self.chance_accuracy = chance
        self.probe_accuracy = [0.5, last_accuracy]


def test_the_probe_figures_say_when_their_own_evidence_is_thin():
    labels = np.array([0, 1] * 40)
    enough = np.arange(MIN_SCORED)
    assert insufficient_evidence(_Plane(0.5), labels, enough) == {}
    few = insufficient_evidence(_Plane(0.5), labels, enough[:-1])
    assert set(few) == {"probe_accuracy_over_chance", "task_information_drop"}
    assert f"only {MIN_SCORED - 1} probes" in _said(few["probe_accuracy_over_chance"])
    assert f"{MIN_SCORED - 1}件のみ" in _said(few["probe_accuracy_over_chance"], "ja")
    one_label = insufficient_evidence(_Plane(1.0), labels, np.arange(0, 2 * MIN_SCORED, 2))
    assert "chance level is undefined" in _said(one_label["probe_accuracy_over_chance"])
    unfitted = insufficient_evidence(_Plane(0.5, None), labels, enough)
    assert "could not be fitted" in _said(unfitted["task_information_drop"])


def _said(stored: dict, lang: str = "en") -> str:
    """A reason the check stored as Message JSON (evidence stays plain data), rendered."""
    from auditor.messages import Message, render

    return render(Message.from_json(stored), lang)


@pytest.mark.parametrize("change, message", [
    ("finding: flow.idel_block", "unknown finding 'flow.idel_block'"),
    ("required: 'yes'", "required must be true or false"),
    ("min_probes: -1", "min_probes must be a whole number"),
    ("min_probes: 1.5", "min_probes must be a whole number"),
])
def test_template_mistakes_are_refused_naming_the_place(tmp_path, change, message):
    from auditor.errors import BadInput
    from auditor.templates import load_template

    key = change.split(":")[0]
    rule = ("      - {condition: below, metric: update_ratio, reduce: min, warn: 0.1, "
            + ("finding: flow.idel_block}" if key == "finding" else "finding: flow.idle_block}"))
    text = ("name: mine\nversion: 1\n" + (f"{change}\n" if key == "min_probes" else "")
            + "checks:\n  - id: flow.representation\n" + (f"    {change}\n" if key == "required" else "")
            + "    conditions:\n" + rule + "\n")
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(BadInput, match="mine.yaml") as refused:
        load_template(str(path))
    assert message in str(refused.value)


def test_builtin_templates_require_the_checks_every_model_can_give():
    from auditor.templates import load_template

    for name in ("quick", "standard", "eu-ai-act-high-risk"):
        template = load_template(name)
        assert template.min_probes > 0
        assert {"artifact.integrity", "flow.representation", "perturbation.sensitivity"} <= set(template.required)
        # checks that an ONNX file or a model without --reference cannot give are never required
        assert not {"gradients.flow", "artifact.parity", "sanity.randomization"} & set(template.required)


def test_held_out_figures_need_a_held_out_split_large_enough_to_decide():
    assert too_few_scored(MIN_SCORED, "surrogate") is None
    assert _said(too_few_scored(MIN_SCORED - 1, "surrogate")).startswith(f"only {MIN_SCORED - 1} probes were held out")
