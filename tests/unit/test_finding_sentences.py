"""Every kind of finding states its detail as catalogue sentences: the English `detail` is their rendering
(unchanged wording), the Japanese has no English left in it, and a rule reads the same everywhere."""
import re

import pytest

from auditor import condition_text as wording
from auditor import messages
from auditor.checks.base import CheckResult
from auditor.checks.conditions import Condition, RuleProblem
from auditor.comparability import Side, check_reason, header_reasons, scope_reason
from auditor.compare import change_word, reason_fields
from auditor.findings import AUDIT_SCOPE, CIRCULAR_LABELS, Finding, evaluate, step_metrics
from auditor.messages import Message, render
from auditor.templates import CheckSpec, Template

PDE = "flow.pde"                               # pde_r2 is a per-step metric: its layers read as blocks
REP = "flow.representation"                    # norm_growth is per boundary: layer 0 is the embeddings
THIN = Message("finding.circular_labels")      # a reason that is a catalogue message (any would do)


def _template(*specs: CheckSpec, min_probes: int = 0) -> Template:
    return Template(name="t", version="1", description="", checks=specs, sha256="0" * 64, source="test", text="",
                    min_probes=min_probes)


def _one(check_id: str, cond: Condition, value, **evidence) -> Finding:
    result = CheckResult(check_id, "ok", "ran", metrics={cond.metric: value}, evidence=evidence)
    (finding,) = evaluate(_template(CheckSpec(check_id, conditions=(cond,))), [result])
    return finding


def _no_english(text: str, *codes: str) -> bool:
    """True when nothing but codes (metric and check ids, template names, A/B, SHA-256) is in Latin letters."""
    text = text.replace("SHA-256", "")
    for code in sorted(codes, key=len, reverse=True):
        text = text.replace(code, "")
    return re.search(r"[A-Za-z]{2,}", text) is None


def _same_in_both(finding: Finding, *codes: str) -> str:
    """The Japanese detail, after checking the English rendering is the stored `detail`."""
    assert finding.sentences and render(finding.sentences, "en") == finding.detail
    ja = finding.text("ja")
    assert ja and ja.endswith(("。", "）")) and _no_english(ja, *codes), ja
    return ja


def test_the_catalogue_renders_every_key_in_both_languages():
    assert messages.validate() == []


@pytest.mark.parametrize("check_id, cond, value, en, ja", [
    (PDE, Condition("below", "pde_r2", warn=0.15, reduce="any_layer"), [0.9, 0.5, 0.3, 0.1281],
     "pde_r2 (any_layer) = 0.1281 at block 4; warn below 0.15 (warning threshold crossed)",
     "pde_r2（最も厳しい層） = 0.1281（ブロック4）。閾値：0.15未満で注意（注意の閾値を超えています）。"),
    (REP, Condition("above", "norm_growth", warn=8, fail=50, reduce="max"), [60.0, 2.0],
     "norm_growth (max) = 60 at layer 0 (embeddings); warn above 8, fail above 50 (failure threshold crossed)",
     "norm_growth（最大） = 60（第0層（埋め込み））。閾値：8超で注意、50超で不合格（不合格の閾値を超えています）。"),
    (REP, Condition("below", "norm_growth", warn=0.02, reduce="min"), [0.5, 0.3, 0.01],
     "norm_growth (min) = 0.01 at layer 2; warn below 0.02 (warning threshold crossed)",
     "norm_growth（最小） = 0.01（第2層）。閾値：0.02未満で注意（注意の閾値を超えています）。"),
    (REP, Condition("below", "stability", warn=0.9, fail=0.5, variant="mask@0.10"), {"mask@0.10": 0.95},
     "stability[mask@0.10] = 0.95; warn below 0.9, fail below 0.5 (within threshold)",
     "stability[mask@0.10] = 0.95。閾値：0.9未満で注意、0.5未満で不合格（閾値内）。"),
    (REP, Condition("above", "prunable_share", info=0.2, finding="opportunity.prunable_heads"), 0.375,
     # an info rule is a note (efficiency opportunities and the counterfactual shift): its title says which
     "prunable_share = 0.375; noted above 0.2 (noted for the reviewer)",
     "prunable_share = 0.375。閾値：0.2超で注記として記録（審査者への注記）。"),
    (REP, Condition("above", "drop", warn=0.2, reduce="drop_from_peak"), [1.0, 2.0, 1.0],
     "drop (drop_from_peak) = 0.5; warn above 0.2 (warning threshold crossed)",
     "drop（ピークからの低下） = 0.5。閾値：0.2超で注意（注意の閾値を超えています）。"),
])
def test_a_decided_rule_states_value_place_thresholds_and_verdict(check_id, cond, value, en, ja):
    finding = _one(check_id, cond, value)
    assert finding.detail == en
    assert _same_in_both(finding, cond.metric, cond.variant or "") == ja


def test_not_applicable_and_rule_errors():
    na = _one(REP, Condition("below", "head_importance", warn=0.1, reduce="min"), [None, None])
    assert (na.severity, na.detail) == ("info", "head_importance (min) was not computed for this model")
    assert _same_in_both(na, "head_importance") == "このモデルでは head_importance（最小） を算出できません。"
    missing = evaluate(_template(CheckSpec(REP, conditions=(Condition("below", "m", warn=1),))),
                       [CheckResult(REP, "ok", "ran", metrics={})])[0]
    assert missing.detail == "m could not be evaluated: the check produced no metric 'm'"
    assert _same_in_both(missing, "m") == "m を評価できませんでした：チェックは指標 m を出力しませんでした。"
    for cond, value, en in [
            (Condition("below", "m", warn=1, variant="a@1"), {"b@2": 1.0}, "variant 'a@1' not among ['b@2']"),
            (Condition("below", "m", warn=1), [1.0, 2.0], "a per-layer metric needs a reducer")]:
        finding = _one(REP, cond, value)
        assert finding.severity == "error" and finding.detail.endswith(en)
        _same_in_both(finding, "m", "a@1", "b@2")
    assert render(RuleProblem("condition.problem.no_value").sentence, "ja") == "値が算出されませんでした。"
    # an exception that is not ours is quoted as it is, in both languages
    odd = _one(REP, Condition("below", "m", warn=1), "text")
    assert odd.detail == "m could not be evaluated: could not convert string to float: 'text'"
    assert odd.text("ja") == "m を評価できませんでした：could not convert string to float: 'text'"


@pytest.mark.parametrize("reason", [THIN, THIN.to_json()])
def test_a_reason_for_thin_evidence_may_be_a_message(reason):
    finding = _one(REP, Condition("below", "m", warn=0.5, reduce="last"), [0.9], insufficient={"m": reason})
    assert (finding.severity, finding.key) == ("inconclusive", "evidence.insufficient")
    assert finding.detail == f"m (last) is not decided: {CIRCULAR_LABELS}"
    assert _same_in_both(finding, "m").startswith("m（最終層） は判定できません：数値はモデル自身の予測を")


def test_a_reason_given_as_english_text_is_quoted():
    finding = _one(REP, Condition("below", "m", warn=0.5), 0.9, insufficient={"m": "only 4 probes were held out"})
    assert finding.detail == "m is not decided: only 4 probes were held out"
    assert finding.text("ja") == "m は判定できません：only 4 probes were held out"


def test_circular_labels_and_the_labels_note():
    cond = Condition("above", "task_information_drop", warn=0.15, finding="bottleneck.task_information_lost")
    spec = CheckSpec("bottleneck.information_plane", conditions=(cond,), requires_labels=True)
    result = CheckResult(spec.id, "ok", "ran", metrics={cond.metric: 0.2}, evidence={"label_source": "model_predictions"})
    (circular,) = evaluate(_template(spec), [result])
    assert circular.detail == f"task_information_drop is not decided: {CIRCULAR_LABELS}"
    assert "ラベル列のあるプローブファイル" in _same_in_both(circular, cond.metric)
    (noted,) = evaluate(_template(CheckSpec(spec.id, conditions=(cond,))), [result])
    assert noted.detail == ("task_information_drop = 0.2; warn above 0.15 (warning threshold crossed) "
                            "(labels: the model's own predictions)")
    assert _same_in_both(noted, cond.metric).endswith("（注意の閾値を超えています）。ラベルにはモデル自身の予測を用いました。")


def test_a_required_check_that_did_not_run_nests_its_own_sentences():
    rule = (Condition("below", "m", warn=0.5),)
    template = _template(CheckSpec("a", conditions=rule, required=True), CheckSpec("b", conditions=rule, required=True),
                         CheckSpec("c", conditions=rule, required=True))
    results = [CheckResult.skipped("a", THIN), CheckResult.error("b", "RuntimeError: boom")]
    skipped, error, absent = evaluate(template, results)
    assert skipped.detail == f"required by the template; skipped: {CIRCULAR_LABELS}"
    assert skipped.sentences[0].params["reasons"] == results[0].sentences
    assert _same_in_both(skipped).startswith("テンプレートで必須のチェックです。対象外：数値はモデル自身の予測を")
    assert error.detail == "required by the template; error: RuntimeError: boom"
    assert error.text("ja") == "テンプレートで必須のチェックです。エラー：RuntimeError: boom"
    assert absent.detail == ("required by the template; this audit has no result for the check (the template it "
                             "ran under did not include it)")
    assert _same_in_both(absent) == ("テンプレートで必須のチェックです。この監査にはこのチェックの結果がありません"
                                     "（監査時のテンプレートに含まれていませんでした）。")
    # a result read back without sentences (an audit stored before them) quotes its stored summary
    (old,) = evaluate(_template(CheckSpec("a", required=True)), [CheckResult("a", "skipped", "skipped: no maps")])
    assert old.detail == "required by the template; skipped: no maps"


def test_optional_skips_and_errors_carry_the_checks_own_sentences():
    rule = (Condition("below", "m", warn=0.5),)
    results = [CheckResult.skipped("a", THIN), CheckResult.error("b", "RuntimeError: boom")]
    skip, error = evaluate(_template(CheckSpec("a", conditions=rule), CheckSpec("b", conditions=rule)), results)
    assert (skip.key, skip.severity, skip.sentences) == ("check.skipped", "info", results[0].sentences)
    assert skip.detail == results[0].summary and _same_in_both(skip).startswith("対象外：")
    assert (error.key, error.severity, error.detail) == ("check.error", "error", "error: RuntimeError: boom")


@pytest.mark.parametrize("why, en, ja", [
    ("", "no probe reached the model, so only static checks of the file ran",
     "どのプローブもモデルに入力されなかったため、実行されたのはファイルの静的な検査のみです。"),
    ("no tokenizer", "no probe reached the model, so only static checks of the file ran: no tokenizer",
     "どのプローブもモデルに入力されなかったため、実行されたのはファイルの静的な検査のみです：no tokenizer"),
    (THIN.to_json(), f"no probe reached the model, so only static checks of the file ran: {CIRCULAR_LABELS}", None),
])
def test_nothing_measured_quotes_the_adapters_reason(why, en, ja):
    found = evaluate(_template(), [], probes_fed=False, why_not_fed=why)
    (wide,) = [f for f in found if f.check_id == AUDIT_SCOPE]
    assert (wide.key, wide.detail) == ("evidence.nothing_measured", en)
    if ja is None:
        _same_in_both(wide)
    else:
        assert wide.text("ja") == ja


def test_too_few_probes():
    (wide,) = evaluate(_template(min_probes=64), [], probe_count=63)
    assert (wide.key, wide.detail) == ("evidence.too_few_probes", "63 probes; template t needs at least 64")
    assert _same_in_both(wide, "t") == "プローブは63件です。テンプレート t には少なくとも64件が必要です。"


def test_findings_carry_their_sentences_as_json_and_read_back():
    finding = _one(PDE, Condition("below", "pde_r2", warn=0.15, reduce="any_layer"), [0.9, 0.1])
    stored = finding.to_dict()
    assert stored["sentences"] == finding.public()["sentences"] == messages.to_json(finding.sentences)
    assert {"check_id", "severity", "title", "detail", "meaning", "clauses", "action", "owner", "due"} \
        <= set(finding.public())
    again = messages.from_json(stored["sentences"])
    assert render(again, "en") == finding.detail and render(again, "ja") == finding.text("ja")


def test_one_wording_of_a_rule_for_tables_charts_and_places():
    cond = {"condition": "below", "metric": "pde_r2", "warn": 0.15, "fail": 0.05, "reduce": "any_layer"}
    assert render(wording.thresholds(cond)) == "warn below 0.15, fail below 0.05"
    assert render(wording.thresholds(cond), "ja") == "0.15未満で注意、0.05未満で不合格"
    lines = wording.threshold_lines(cond)
    assert [(level, value, render(m), render(m, "ja")) for level, value, m in lines] == [
        ("warn", 0.15, "warn below 0.15", "注意：0.15未満"), ("fail", 0.05, "fail below 0.05", "不合格：0.05未満")]
    assert render(wording.threshold_lines({"condition": "above", "info": 0.2}, ("info",))[0][2], "ja") == \
        "注記：0.2超"
    assert render(wording.reducer("any_layer"), "ja") == "最も厳しい層"
    assert render(wording.measured_name(cond), "ja") == "pde_r2（最も厳しい層）"
    assert render(wording.place("pde_r2", 3, step_metrics(PDE))) == "block 4"
    assert render(wording.place("norm_growth", 0, step_metrics(REP)), "ja") == "第0層（埋め込み）"
    assert render(wording.place("norm_growth", 4), "ja") == "第4層" and wording.place("m", None) is None
    assert [render(wording.verdict(s), "ja") for s in ("pass", "fail", "inconclusive")] == \
        ["閾値内", "不合格の閾値を超えています", "判定できません"]
    # the Condition object words itself through the same functions
    assert Condition("above", "m", warn=8, fail=50).threshold_text("ja") == "8超で注意、50超で不合格"


def _side(label: str, status: str | None, *, template: str = "standard", probes: str = "12", min_probes: int = 64,
          params: dict | None = None) -> Side:
    return Side(label=label, audit={"status": "completed" if label == "A" else "running"},
                template={"name": template, "version": "2", "sha256": str(len(template)) * 64, "min_probes": min_probes},
                probes={"spec": "builtin:text", "sha256": probes, "count": 64, "selection": {}},
                rules={REP: ["r"]}, params={REP: params or {"max_rows": 512}}, statuses={REP: status})


def test_why_two_audits_are_not_compared_reads_in_both_languages():
    a = _side("A", "inconclusive")
    b = _side("B", "pass", template="quick", probes="34", min_probes=32, params={"max_rows": 128})
    reasons = header_reasons(a, b)
    assert render(reasons[0]) == "Audit B is running, not completed."
    assert render(reasons[0], "ja") == "監査 B は完了していません（状態：実行中）。"
    assert render(reasons[1]).startswith("The audits ran under different templates: A standard v2 (sha256 888888888888)")
    assert render(reasons[2]).endswith("checks that feed probes to the model are not compared.")
    (why, blocks) = check_reason(REP, a, b)
    assert blocks and render(why) == ("inconclusive in A; its parameters differ (max_rows: A 512, B 128); "
                                      "the probe sets differ")
    assert render(why, "ja") == ("A では判定不能でした。パラメータが異なります（max_rows: A 512、B 128）。"
                                 "プローブセットが異なります。")
    scope = scope_reason(a, b)
    assert render(scope) == "the templates' probe minimums differ (A 64, B 32)"
    fields = reason_fields(why)
    assert fields["reason"] == render(why) and fields["reason_ja"] == render(why, "ja")
    assert messages.Message.from_json(fields["reason_message"]) == why
    for message in [*reasons, why, scope]:
        assert _no_english(render(message, "ja"), "standard", "quick", "builtin:text", "max_rows", "A", "B")
    assert [render(change_word(c), "ja") for c in ("improved", "not_compared", "gone")] == ["改善", "比較対象外", "解消"]


def test_a_check_the_audit_never_ran_is_undecided_under_a_template_that_asks_for_it():
    """A quick audit re-evaluated under standard: flow.pde was never measured, so its rules decide nothing."""
    from auditor.checks.base import CheckResult
    from auditor.findings import audit_verdict, evaluate
    from auditor.templates import load_template

    standard = load_template("standard")
    ran = [CheckResult(spec.id, "skipped", sentences=(Message("check.skipped", {"reasons": ["x"]}),))
           for spec in standard.checks if spec.id != "flow.pde" and not spec.required]
    found = [f for f in evaluate(standard, ran) if f.check_id == "flow.pde"]
    assert [(f.severity, f.key) for f in found] == [("inconclusive", "check.not_run")]
    assert found[0].detail == "this audit has no result for the check (the template it ran under did not include it)"
    assert audit_verdict(ran, found) == "inconclusive"
