"""What reports say about a check, rendered from the catalogue (auditor.messages, auditor.presentation).

A check's title, why it is there and what its figures mean are the catalogue sentences
check.<id>.title / .why / .meaning; why a check did not run is its own stored sentence (check.skipped
or check.error), rendered in the reader's language. Audits stored before the catalogue have no
sentences: their stored English is shown as it is. Report chrome (headings, footers) is in
reports/strings. No reportlab here.
"""
from __future__ import annotations

from typing import Any

from auditor.messages import Message, render
from auditor.presentation import presentation
from auditor.views import CheckView


def check_words(check_id: str, lang: str, t: dict[str, Any]) -> dict[str, str]:
    """Title, why and meaning of a check; the id and a generic line for a check the catalogue does not know."""
    shown = presentation(check_id)
    return {"title": shown.title_in(lang), "why": shown.why_in(lang) or t["generic_check_why"],
            "meaning": shown.meaning_in(lang) or t["generic_check_meaning"]}


def not_run_reason(check: CheckView, lang: str) -> str | None:
    """Why a skipped or failed check did not run, without the leading 'skipped:' (the report's own line
    says it); None for a check stored before the catalogue (its stored summary is shown instead)."""
    first = check.sentences[0] if check.sentences else None
    if first is None:
        return None
    if first.key == "check.skipped":
        return render(list(first.params.get("reasons") or ()), lang, default=check.summary)
    if first.key == "check.error":
        return render(first.params.get("detail") or Message("value.unknown"), lang, default=check.summary)
    return check.summary_in(lang)


def direction_word(code: str | None, lang: str) -> str:
    """improved / worse / not compared … (comparison.change.<code>); the code for one the catalogue lacks."""
    return render(Message(f"comparison.change.{code}"), lang, default=str(code))

