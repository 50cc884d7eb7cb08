"""The typed read model: stored statuses and ratings, views that round-trip, the show --json contract, layering."""
from __future__ import annotations

import ast
import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import api, governance
from auditor.checks.base import CheckResult
from auditor.messages import Message, verbatim
from auditor.status import Status
from auditor.store import open_db, records
from auditor.views import AuditView, trend_of

ROOT = Path(__file__).resolve().parents[2]

# every field `show --json` printed before the typed views (issue 15); the views may only add to them
BEFORE_TOP = {"audit_id", "audit_template", "checks", "environment", "error", "evaluation", "evaluation_id",
              "evaluations", "events", "findings", "fingerprint", "finished_at", "meta", "model",
              "previous_audit_id", "probes", "ratings", "signoffs", "started_at", "status", "template",
              "template_conditions", "verdict"}
BEFORE_CHECK = {"duration_s", "id", "metrics", "status", "summary"}
BEFORE_FINDING = {"action", "action_ja", "check_id", "clauses", "condition", "detail", "due", "id", "key", "layer",
                  "meaning", "metric", "owner", "severity", "title", "title_ja", "value"}
BEFORE_MODEL = {"name", "version", "format", "sha256", "files", "parameters", "layers", "architecture", "pooling",
                "pooling_source", "model_type", "dtype", "modality", "hidden_size", "heads", "details"}
BEFORE_EVALUATION = {"id", "template_name", "template_version", "template_sha256", "verdict", "reason", "created_at"}
BEFORE_RULE = {"check_id", "metric", "condition", "reduce", "variant", "warn", "fail", "info", "finding",
               "rationale", "rationale_ja", "clauses"}
ADDED_CHECK = {"outcome", "sentences", "intervals"}
ADDED_FINDING = {"sentences"}


def _results(update_ratio: float) -> list[CheckResult]:
    """Results of the quick template's checks without a model: one measured, one skipped, one that raised."""
    return [
        CheckResult("artifact.integrity", "ok", sentences=(verbatim("13 files, nothing unusual"),),
                    metrics={"custom_operator_count": 0.0}, evidence={"files": 13}),
        CheckResult("flow.representation", "ok", summary="block 3 changes least",
                    metrics={"update_ratio": [0.5, update_ratio, 0.4], "norm_growth": [1.0, 1.1, 1.2, 1.3],
                             "effective_rank": [5.0, 5.0, 5.0, 5.0], "consecutive_cos": [0.5, 0.5, 0.5]}),
        CheckResult.skipped("gradients.flow", verbatim("the model has no gradients")),
        CheckResult.error("attention.structure", "ValueError: boom"),
    ]


def _store(path: Path, update_ratio: float = 0.3) -> str:
    """An audit stored as api.run_audit stores one (through the store's public functions), without a model."""
    from auditor import findings as findings_mod
    from auditor.templates import load_template

    template = load_template("quick")
    results = _results(update_ratio)
    db = open_db(path)
    audit_id = records.create_audit(
        db, identity={"sha256": "ab" * 32, "format": "transformers", "architecture": "BertModel", "layers": 3},
        probes={"spec": "builtin:text", "sha256": "cd" * 32, "count": 100}, template=governance.template_row(template),
        meta={"purpose": "test"}, environment={"probes_fed": True}, seed=0, device="cpu", name="m",
        model_version="1")
    records.store_results(db, audit_id, [api.result_row(r) for r in results])
    found = findings_mod.evaluate(template, results, probe_count=100)
    verdict = findings_mod.audit_verdict(results, found)
    evaluation_id = governance.record_evaluation(db, audit_id, template, results, found, verdict, "initial")
    records.mark_finished_at(db, audit_id)
    records.finish_audit(db, audit_id, verdict=verdict, fingerprint=records.seal_evaluation(db, audit_id,
                                                                                           evaluation_id))
    db.conn.close()
    return audit_id


def test_statuses_and_ratings_are_stored_when_evaluated(tmp_path):
    audit_id = _store(tmp_path / "a.db", update_ratio=0.001)
    db = open_db(tmp_path / "a.db")
    stored = {r["check_id"]: r["status"] for r in db["check_statuses"].rows}
    assert stored == {"artifact.integrity": "pass", "flow.representation": "fail",
                      "gradients.flow": "skipped", "attention.structure": "error"}
    view = api.audit_view(audit_id, str(tmp_path / "a.db"))
    assert {c.id: c.status for c in view.checks} == stored
    assert view.verdict is Status.FAIL and view.rating("flow").rating is Status.FAIL
    assert view.rating("transparency").rating is Status.WARN          # a check that raised counts as a warning
    assert view.rating("trainability").rating is Status.NOT_ASSESSED  # a skip does not count
    assert [r.dimension for r in view.ratings] == ["flow", "retention", "robustness", "trainability",
                                                    "transparency", "integrity"]
    # what is shown is what was stored: a changed stored status is what show prints (nothing recomputes it)
    db.execute("UPDATE check_statuses SET status = 'warn' WHERE check_id = 'artifact.integrity'")
    db.conn.commit()
    assert api.audit_view(audit_id, str(tmp_path / "a.db")).check("artifact.integrity").status is Status.WARN


def test_sentences_are_stored_and_rendered_per_language(tmp_path):
    audit_id = _store(tmp_path / "a.db")
    view = api.audit_view(audit_id, str(tmp_path / "a.db"))
    skipped = view.check("gradients.flow")
    assert skipped.outcome == "skipped" and skipped.sentences == (
        Message("check.skipped", {"reasons": [verbatim("the model has no gradients")]}),)
    assert skipped.summary_in("en") == skipped.summary == "skipped: the model has no gradients"
    assert skipped.summary_in("ja") == "対象外：the model has no gradients"
    assert view.check("attention.structure").summary_in("ja") == "エラー：ValueError: boom"
    # a result stored without sentences (a check not yet converted) shows its stored English in every language
    plain = view.check("flow.representation")
    assert plain.sentences == () and plain.summary_in("ja") == "block 3 changes least"


def test_views_round_trip_through_json(tmp_path):
    audit_id = _store(tmp_path / "a.db")
    api.sign_audit(audit_id, "reviewer", "R. Viewer", "approve", db=str(tmp_path / "a.db"))
    view = api.audit_view(audit_id, str(tmp_path / "a.db"))
    assert view.signoffs and view.events and view.template_conditions and view.evaluation
    again = AuditView.from_json(json.loads(json.dumps(view.to_json(evidence=True))))
    assert again == view
    assert view.check("artifact.integrity").evidence == {"files": 13}
    assert "evidence" not in view.to_json()["checks"][0]      # show --json stays its size


def test_show_json_keeps_every_field_and_adds_the_named_ones(tmp_path):
    audit_id = _store(tmp_path / "a.db")
    out = io.StringIO()
    from auditor.cli import main

    with contextlib.redirect_stdout(out):
        assert main(["show", audit_id, "--db", str(tmp_path / "a.db"), "--json"]) == 0
    data = json.loads(out.getvalue())
    assert data == api.show_audit(audit_id, str(tmp_path / "a.db"))
    assert set(data) == BEFORE_TOP
    assert all(set(c) == BEFORE_CHECK | ADDED_CHECK for c in data["checks"])
    assert data["findings"] and all(set(f) == BEFORE_FINDING | ADDED_FINDING for f in data["findings"])
    assert set(data["model"]) == BEFORE_MODEL
    assert set(data["evaluation"]) == BEFORE_EVALUATION
    assert all(set(e) == BEFORE_EVALUATION | {"fingerprint"} for e in data["evaluations"])
    assert all(set(r) == BEFORE_RULE for r in data["template_conditions"])
    assert all(set(r) == {"rating", "checks", "trend"} for r in data["ratings"].values())
    # issue 16 adds each event's signer (certificate fingerprint), read by auditor.duties
    assert all(set(e) == {"id", "at", "actor", "kind", "detail", "signer"} for e in data["events"])
    assert data["template"]["approval_grade"] is False       # issue 16: the stored quick template says nothing
    assert data["checks"][0]["sentences"] == [{"key": "text.verbatim", "params": {"text": "13 files, nothing unusual"}}]


def test_trend_and_evaluation_choice(tmp_path):
    db = str(tmp_path / "a.db")
    first = _store(tmp_path / "a.db", update_ratio=0.3)
    second = _store(tmp_path / "a.db", update_ratio=0.001)
    view = api.audit_view(second, db)
    assert view.previous_audit_id == first
    assert view.rating("flow").trend == "worse" and view.rating("integrity").trend == "same"
    assert view.rating("trainability").trend is None            # not assessed has no trend
    assert trend_of("pass", "fail") == "better" and trend_of("pass", None) is None
    api.reevaluate(second, "standard", db=db)
    assert api.audit_view(second, db, evaluation_id=view.evaluation_id).evaluation_id == view.evaluation_id
    assert len(api.audit_view(second, db).evaluations) == 2


def test_frozen_dimension_map_agrees_with_the_checks():
    from auditor.checks import registry
    from auditor.ratings import dimension_of
    from auditor.store import legacy

    for check_id, cls in registry.load_all().items():
        assert legacy.dimension_of(check_id) == cls.dimension == dimension_of(check_id), check_id


FORBIDDEN_IN_STORE = ("auditor.checks", "auditor.findings", "auditor.templates", "auditor.models", "auditor.capture",
                      "auditor.runner", "auditor.compare", "auditor.comparability", "auditor.ratings",
                      "auditor.governance", "auditor.api")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_the_store_imports_no_domain_module_and_views_only_the_vocabulary():
    for path in (ROOT / "auditor" / "store").glob("*.py"):
        bad = {n for n in _imports(path) if n.startswith(FORBIDDEN_IN_STORE)}
        assert not bad, f"{path.name} imports {bad}"
    ours = {n for n in _imports(ROOT / "auditor" / "views.py") if n.startswith("auditor")}
    assert {n.rsplit(".", 1)[0] if n.count(".") > 1 else n for n in ours} <= {"auditor.status", "auditor.messages"}


@pytest.mark.skipif(not (Path(sys.executable).parent / "lint-imports").exists(), reason="import-linter not installed")
def test_import_contracts_hold():
    run = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "The store imports no domain module KEPT" in run.stdout


def test_a_check_view_gives_the_interval_at_a_layer_or_variant():
    from auditor.status import Status
    from auditor.views import CheckView

    check = CheckView(id="c", status=Status.PASS, outcome="ok", summary="", metrics={"amp": [1.0, 0.5], "cos": 0.7},
                      intervals={"amp": {"ci_low": [0.9, 0.4], "ci_high": [1.1, 0.6]},
                                 "cos": {"ci_low": 0.6, "ci_high": 0.8},
                                 "rho": {"entropy": {"ci_low": 0.8, "ci_high": 0.95}}})
    assert check.interval("amp", 1) == (0.4, 0.6) and check.interval("cos") == (0.6, 0.8)
    assert check.interval("rho", variant="entropy") == (0.8, 0.95)
    assert check.interval("amp") is None and check.interval("amp", 5) is None and check.interval("none") is None
    assert CheckView.from_json(check.to_json()) == check and check.to_json()["intervals"] == dict(check.intervals)


def test_a_finding_stored_without_title_or_action_reads_as_empty_text():
    """Older databases hold NULL there; pages escape the text, so None must not reach them."""
    from auditor.status import Status
    from auditor.views import FindingView

    old = FindingView(id=1, check_id="flow.pde", severity=Status.WARN, title=None, detail="d", meaning={},
                      clauses=(), action=None, title_ja=None, action_ja=None)
    assert [old.title_in(lang) for lang in ("en", "ja")] == ["", ""]
    assert [old.action_in(lang) for lang in ("en", "ja")] == ["", ""]
    assert old.meaning_in("ja") == "" and old.detail_in("ja") == "d"
