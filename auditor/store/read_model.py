"""Builds the typed read model (auditor.views.AuditView) of one audit from its rows, on one handle.

Statuses, verdicts and ratings are read as the engine stored them when it evaluated the audit
(migration 3). Two cases have none stored and get them from auditor.store.legacy, by the rule
migration 3 applies: an audit that never reached an evaluation (running, failed, interrupted;
its checks' statuses then follow from how their runs ended) and a database on read-only media
that predates migration 3 (it cannot be migrated, so it is read as its version wrote it).
"""
from __future__ import annotations

from typing import Any

import sqlite_utils

from auditor.errors import BadInput
from auditor.messages import Message, from_json
from auditor.status import Status
from auditor.store import legacy, queries
from auditor.store import metrics as metric_rows
from auditor.views import (
    AuditView,
    CheckView,
    EvaluationView,
    EventView,
    FindingView,
    ModelView,
    RuleView,
    SignoffView,
    TemplateView,
    ratings_from,
)

Row = dict[str, Any]


def audit_view(db: sqlite_utils.Database, audit_id: str, evaluation_id: int | None = None) -> AuditView:
    """The audit (an ID or a unique prefix) under its latest evaluation, or under `evaluation_id`."""
    audit = queries.audit_row(db, audit_id)
    stored = "check_statuses" in db.table_names()      # False: read-only media written before migration 3
    evaluation = _evaluation(db, audit["id"], evaluation_id)
    findings = queries.findings_of(db, evaluation["id"]) if evaluation else []
    results = list(db["check_results"].rows_where("audit_id = ?", [audit["id"]], order_by="position"))
    statuses = _statuses(db, evaluation, results, findings, stored)
    metric_list = list(db["metrics"].rows_where("audit_id = ?", [audit["id"]]))
    metrics = metric_rows.from_rows(metric_list)
    intervals = metric_rows.intervals_from_rows(metric_list)
    previous = queries.previous_audit_id(db, audit["id"])
    events = queries.events_of(db, audit["id"])
    meta = queries.load_json(audit["meta_json"], {})
    return AuditView(
        audit_id=audit["id"],
        status=audit["status"],
        # a re-evaluation can change the verdict: the evaluation's is the one shown
        verdict=Status.of(evaluation["verdict"] if evaluation else audit["verdict"]),
        model=ModelView.from_json(queries.model_of(db, audit)),
        probes=queries.load_json(db["probe_sets"].get(audit["probe_set_id"])["detail_json"], {}),
        environment=queries.load_json(audit["environment_json"], {}),
        meta={**{k: meta.get(k) for k in queries.META_KEYS}, **meta},
        template=_template(audit, evaluation),
        audit_template=TemplateView(audit["template_name"], audit["template_version"], audit["template_sha256"],
                                    audit["template_source"]),
        started_at=audit["started_at"], finished_at=audit["finished_at"], error=audit["error"],
        checks=tuple(CheckView(id=r["check_id"], status=Status(statuses[r["check_id"]]), outcome=r["outcome"],
                               summary=r["summary"], sentences=_messages(r.get("sentences_json")),
                               metrics=metrics.get(r["check_id"], {}), intervals=intervals.get(r["check_id"], {}),
                               evidence=queries.load_json(r["evidence_json"], {}), duration_s=r["duration_s"])
                     for r in results),
        findings=tuple(FindingView.from_json(f) for f in findings),
        evaluation_id=evaluation["id"] if evaluation else None,
        fingerprint=evaluation["fingerprint"] if evaluation else None,
        ratings=ratings_from(_ratings(evaluation, statuses),
                             before=_previous_ratings(db, audit, evaluation, previous, stored)),
        previous_audit_id=previous,
        evaluation=_evaluation_view(evaluation) if evaluation else None,
        evaluations=tuple(EvaluationView.from_json(e) for e in queries.evaluations_of(db, audit["id"])),
        template_conditions=tuple(RuleView.from_json(r) for r in queries.template_conditions(
            evaluation["template_text"] if evaluation else None)),
        signoffs=tuple(SignoffView.from_json(s) for s in queries.signoffs_of(events)),
        events=tuple(EventView.from_json(e) for e in events),
    )


def _evaluation(db: sqlite_utils.Database, audit_id: str, evaluation_id: int | None) -> Row | None:
    if evaluation_id is None:
        return queries.latest_evaluation(db, audit_id)
    rows = list(db["evaluations"].rows_where("id = ? AND audit_id = ?", [evaluation_id, audit_id], limit=1))
    if not rows:
        raise BadInput(f"audit {audit_id} has no evaluation {evaluation_id} (`auditor show ID --json` lists them)")
    return rows[0]


def _statuses(db: sqlite_utils.Database, evaluation: Row | None, results: list[Row], findings: list[Row],
              stored: bool) -> dict[str, str]:
    """{check_id: status} as stored for the evaluation; derived where nothing was stored (module doc)."""
    found: dict[str, str] = {}
    if evaluation is not None and stored:
        found = {r["check_id"]: r["status"] for r in db.query(
            "SELECT check_id, status FROM check_statuses WHERE evaluation_id = ?", [evaluation["id"]])}
    missing = [r for r in results if r["check_id"] not in found]
    return {**legacy.check_statuses(missing, findings), **found} if missing else found


def _ratings(evaluation: Row | None, statuses: dict[str, str]) -> list[Row]:
    stored = queries.load_json(evaluation.get("ratings_json"), None) if evaluation else None
    return stored if stored is not None else legacy.ratings(statuses)


def _previous_ratings(db: sqlite_utils.Database, audit: Row, evaluation: Row | None, previous: str | None,
                      stored: bool) -> list[Row] | None:
    """The previous audit's ratings where both were evaluated under the same template on the same probe
    set: only then is a rating's trend a change of the model (`auditor compare` says what differs)."""
    if previous is None:
        return None
    other = queries.audit_row(db, previous)
    other_evaluation = queries.latest_evaluation(db, previous)

    def conditions(row: Row, ev: Row | None) -> tuple[Any, ...]:
        # one probe_sets row per spec, hash, count, seeded selection and skips: the same row, the same probes
        return (ev["template_sha256"] if ev else row["template_sha256"], row["probe_set_id"])

    if conditions(audit, evaluation) != conditions(other, other_evaluation):
        return None
    results = list(db.query("SELECT check_id, outcome FROM check_results WHERE audit_id = ? ORDER BY position",
                            [previous]))
    findings = queries.findings_of(db, other_evaluation["id"]) if other_evaluation else []
    return _ratings(other_evaluation, _statuses(db, other_evaluation, results, findings, stored))


def _template(audit: Row, evaluation: Row | None) -> TemplateView:
    """The template of the evaluation shown (a re-evaluation changes it)."""
    if evaluation is None or evaluation["template_sha256"] == audit["template_sha256"]:
        return TemplateView(audit["template_name"], audit["template_version"], audit["template_sha256"],
                            audit["template_source"], _approval_grade(audit["template_text"]))
    return TemplateView(evaluation["template_name"], evaluation["template_version"], evaluation["template_sha256"],
                        f"re-evaluation {evaluation['id']}", _approval_grade(evaluation["template_text"]))


def _approval_grade(template_text: str | None) -> bool:
    """Whether the stored template says `approval_grade: true` (auditor.duties); False when it says nothing."""
    return queries.parsed_template(template_text).get("approval_grade") is True


def _evaluation_view(row: Row) -> EvaluationView:
    return EvaluationView.from_json({k: row[k] for k in ("id", "template_name", "template_version",
                                                         "template_sha256", "verdict", "reason", "created_at",
                                                         "fingerprint")})


def _messages(text: str | None) -> tuple[Message, ...] | None:
    data = queries.load_json(text, None)
    return None if data is None else from_json(data)
