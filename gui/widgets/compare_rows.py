"""The Compare page's rows in the reader's language, most important first: pure data, no Qt.

Each table row names its check by its title (check.<id>.title), its figure by the metric's display name
(metric.<name>, with a perturbation variant in words and the reducer), statuses as words, and why it was
not compared rendered from the engine's reason_message. Rows sort worse first, then not compared, then
other changes, then better, then unchanged, so what needs attention is at the top.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from auditor.condition_text import reducer
from auditor.messages import Message, has, render
from auditor.presentation import dimension_label, metric_label, scope_label, variant_label
from auditor.status import rank
from auditor.views import AuditView, FindingView
from gui.strings import verdict_word
from gui.widgets import numbers

Tr = Callable[..., str]
Titles = dict[tuple[str, str | None, str], FindingView]

# worse first, then what could not be compared (it may hide a change), then the rest; unchanged last
IMPORTANCE = {"worse": 0, "new": 1, "not_compared": 2, "not_comparable": 2, "changed": 3, "improved": 4,
              "better": 4, "gone": 5, "unchanged": 6, "same": 6}
UNCHANGED = ("unchanged", "same")
NOT_COMPARED = ("not_compared", "not_comparable")


@dataclass(frozen=True)
class Row:
    """One table row: the shown cells (the direction word and reason last), the engine's change code,
    and the check and audit that Return opens (None where a row has no check, as a rating)."""

    cells: tuple[str, ...]
    change: str | None
    why: str = ""
    check_id: str | None = None
    audit_id: str | None = None
    severity: int = 0


def plain(label: str) -> str:
    """A label without its mnemonic ("&Changes only" -> "Changes only", "変化のみ表示(&C)" -> "変化のみ表示")."""
    return re.sub(r"\(&\w\)|&", "", label).rstrip("…").strip()


def fmt(value: Any, lang: str = "en", digits: int = 3) -> str:
    """A compared value as people read it (gui.widgets.numbers.plain: 0.000000421 is 4.21×10⁻⁷, never 4.212e-07);
    text as it is; '–' where the audit has none."""
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return numbers.plain(value, lang, digits)
    return str(value)


def _digits(*values: Any) -> int:
    """Significant digits enough for A and B to print differently when they differ (0.9997 and 0.9999, not 1, 1)."""
    return numbers.digits_apart([v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)])


def titled(message: Message) -> Message:
    """`message` with the check ids in its parameters (`check`, `checks`) as their catalogue titles
    (check.<id>.title) and metric names (`metrics`) as their display names, nested messages too, so a
    reason never shows 'flow.representation' in either language."""
    params = {}
    for name, value in message.params.items():
        if name in ("check", "checks"):
            value = [_title(v, "check.{}.title") for v in value] if isinstance(value, list) else _title(
                value, "check.{}.title")
        elif name == "metrics" and isinstance(value, list):
            value = [_title(v, "metric.{}") for v in value]
        elif isinstance(value, Message):
            value = titled(value)
        elif isinstance(value, list):
            value = [titled(v) if isinstance(v, Message) else v for v in value]
        params[name] = value
    return Message(message.key, params)


def _title(value: Any, key: str) -> Any:
    return Message(key.format(value)) if isinstance(value, str) and has(key.format(value)) else value


def previous_of(audits: list[dict[str, Any]], at: int) -> str | None:
    """The audit before audits[at] (the list runs newest first) of the same model: the same name, or the
    same weights (model SHA-256) under another name; None when there is none."""
    b = audits[at]
    for audit in audits[at + 1:]:
        if (b.get("name") and audit.get("name") == b.get("name")) or (
                b.get("model_sha256") and audit.get("model_sha256") == b.get("model_sha256")):
            return str(audit["audit_id"])
    return None


def check_title(check_id: str | None, lang: str) -> str:
    """The check's plain title (check.<id>.title); 'Audit as a whole' for audit-wide findings."""
    return scope_label(str(check_id or ""), lang) if check_id else "–"


def reason(entry: dict[str, Any], lang: str) -> str:
    """Why an entry was not compared, rendered in `lang` from the engine's message (reason_message)."""
    data = entry.get("reason_message")
    if data is None:
        return ""
    return render(titled(Message.from_json(data)), lang, default=str(entry.get("reason") or ""))


def metric_name(row: dict[str, Any], lang: str) -> str:
    """A compared figure's display name, its variant in words (a perturbation kind) and its reducer."""
    name = metric_label(str(row.get("name")), lang)
    if row.get("variant"):
        name += f" [{variant_label(str(row['variant']), lang)}]"
    return name + (f" ({reduce_label(str(row['reduce']), lang)})" if row.get("reduce") else "")


def reduce_label(name: str, lang: str) -> str:
    """A reducer in plain words (gui.compare.reduce.<name>), else as the rules word it (condition.reducer.*)."""
    key = f"gui.compare.reduce.{name}"
    return render(Message(key), lang) if has(key) else render(reducer(name), lang)


def titles_of(views: Iterable[AuditView]) -> Titles:
    """The two audits' findings by (check, metric, stored title): what a compared finding entry names."""
    return {(f.check_id, f.metric, f.title): f for view in views for f in view.findings}


def finding_title(finding: dict[str, Any], known: Titles, lang: str) -> str:
    """A compared finding's title in `lang`, from the stored finding it names (FindingView.title_in); the
    entry's stored title where neither audit's view has it."""
    title = str(finding.get("title") or "")
    view = known.get((str(finding.get("check_id")), finding.get("metric"), title))
    return view.title_in(lang) if view is not None else title


def _status(status: str | None, lang: str) -> str:
    """A severity or rating as its word; a dash where the audit has none (its check did not run)."""
    return verdict_word(status, lang) if status else "–"


def _direction(change: str | None, tr: Tr) -> str:
    return tr(f"cmp.{change}") if change else "–"


def rating_rows(result: dict[str, Any], lang: str, tr: Tr) -> list[Row]:
    return [Row((dimension_label(dim, lang), verdict_word(r.get("a"), lang), verdict_word(r.get("b"), lang),
                 _direction(r.get("change"), tr), reason(r, lang)), r.get("change"), reason(r, lang))
            for dim, r in (result.get("ratings") or {}).items()]


def finding_rows(result: dict[str, Any], titles: Titles, lang: str, tr: Tr) -> list[Row]:
    rows = []
    for f in result.get("findings") or []:
        why = reason(f, lang)
        # Return opens the finding where it is now (B), or where it was last raised (A) when it is gone
        audit = result["b"] if f.get("b") else result["a"]
        rows.append(Row((check_title(f.get("check_id"), lang), finding_title(f, titles, lang), _status(f.get("a"), lang),
                         _status(f.get("b"), lang), _direction(f.get("change"), tr), why), f.get("change"), why,
                        f.get("check_id"), audit, max(rank(f.get("a")), rank(f.get("b")))))
    return rows


def metric_rows(result: dict[str, Any], lang: str, tr: Tr) -> list[Row]:
    rows = []
    for m in result.get("metrics") or []:
        why, change = reason(m, lang), m.get("direction")
        # a difference measured under other conditions is not a change of the model: no delta is shown
        digits = _digits(m.get("a"), m.get("b"))
        delta = "–" if change in NOT_COMPARED else fmt(m.get("delta"), lang)
        rows.append(Row((check_title(m.get("check_id"), lang), metric_name(m, lang), fmt(m.get("a"), lang, digits),
                         fmt(m.get("b"), lang, digits),
                         delta, _direction(change, tr), why), change, why, m.get("check_id"), result["b"]))
    return rows


def ordered(rows: list[Row]) -> list[Row]:
    """Most important first; within a group, the more severe finding first, else the engine's order."""
    return sorted(rows, key=lambda r: (IMPORTANCE.get(r.change or "", 3), -r.severity))


def visible(rows: list[Row], changes_only: bool) -> tuple[list[Row], int]:
    """The rows to show and how many unchanged ones `changes_only` hides (never a not-compared one)."""
    if not changes_only:
        return rows, 0
    shown = [r for r in rows if r.change not in UNCHANGED]
    return shown, len(rows) - len(shown)
