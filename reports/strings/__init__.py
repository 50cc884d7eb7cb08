"""Words for the reports, in English and Japanese, kept out of the layout code.

Only report chrome lives here: titles, headings, table heads, footers, the board's fixed lines.
Everything said about a check, a finding, a chart or a threshold is a catalogue sentence
(templates/sentences/, auditor.messages). `text(lang)` returns a dict; a test checks that the
Japanese table has every key the English one has. The words the reports share with the GUI are built from
the catalogue (auditor.presentation), not kept here: "verdict", "dimensions" and "dimension_hint" (status.*,
dimension.*), the audit's run state "status" (audit.status.*), "trend" and "trend_unmeasured" (trend.*),
"missing_title"/"missing_intro"/"missing_how" (missing.*), "audit_scope" (scope.audit), the sign-off roles
t["signoff"]["roles"] and the board's "decision_options" (signoff.*).
"""
from __future__ import annotations

from typing import Any

from reports.strings import en, ja

LANGS = ("en", "ja")


def text(lang: str) -> dict[str, Any]:
    if lang not in LANGS:
        from auditor.errors import BadInput

        raise BadInput(f"--lang {lang}: choose one of {', '.join(LANGS)}")
    merged = dict(en.TEXT)
    if lang != "en":
        for key, value in ja.TEXT.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    words = _catalogue_words(lang)
    words["signoff"] = {**merged["signoff"], "roles": words.pop("roles")}
    return {**merged, **words}


RUN_STATES = ("completed", "running", "failed", "cancelled", "interrupted")
ROLES = ("preparer", "reviewer", "approver")


def _catalogue_words(lang: str) -> dict[str, Any]:
    """The words shared with the GUI in `lang`, as the tables and lines the report code reads (mark() takes
    a table keyed by code)."""
    from auditor.messages import text as say
    from auditor.presentation import (
        DECISIONS,
        audit_status_label,
        decision_label,
        dimension_hint,
        dimension_label,
        role_label,
        status_label,
        trend_label,
    )
    from auditor.status import Status
    from auditor.views import DIMENSIONS

    return {"verdict": {**{s.value: status_label(s, lang) for s in Status}, "none": status_label(None, lang)},
            "dimensions": {d: dimension_label(d, lang) for d in DIMENSIONS},
            "dimension_hint": {d: dimension_hint(d, lang) for d in DIMENSIONS},
            "status": {s: audit_status_label(s, lang) for s in RUN_STATES},
            "trend": {trend: trend_label(trend, lang) for trend in ("better", "worse", "same", None)},
            "trend_unmeasured": trend_label(None, lang, previous=True),
            "missing_title": say("missing.title", lang), "missing_intro": say("missing.intro", lang),
            "missing_how": say("missing.how", lang), "audit_scope": say("scope.audit", lang),
            "roles": {r: role_label(r, lang) for r in ROLES},
            "decision_options": tuple(decision_label(d, lang) for d in DECISIONS)}

