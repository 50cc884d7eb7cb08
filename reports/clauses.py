"""The clauses an audit's template cites, with the findings under each (full report, section 12).

The static table above it says what each well-known framework asks; this one is the audit's own
mapping, read from its stored rules, so a template that cites other documents (japan-ai-guidelines:
the METI/MIC AI Guidelines for Business and the J-AISI evaluation perspectives) is cited in the report.
A clause reference is coverage: the intro says it is not a statement that the model complies.
"""
from __future__ import annotations

from itertools import groupby
from typing import Any

from reportlab.platypus import CondPageBreak

from auditor.api import finding_title
from auditor.messages import Message, render
from auditor.messages import text as say
from reports.data import ReportData
from reports.layout import CONTENT_W, esc, mark, table
from reports.textflow import Paragraph


def _rule_key(check_id: Any, rule: Any) -> tuple:
    """What ties a stored finding to the rule it came from (two rules may share a metric or a finding key)."""
    return check_id, rule.get("finding"), rule.get("metric"), rule.get("condition"), rule.get("variant")


def _order(clauses: list[str]) -> list[str]:
    """Grouped by document (the first word: 'AI事業者ガイドライン', 'AISI…', 'EU', 'NIST', 'ISO/IEC', 'SR'), documents in
    the order the template first cites them, and in natural order within one ('MEASURE 2.9' before '2.13')."""
    groups: dict[str, int] = {}
    for clause in clauses:
        groups.setdefault(clause.split(" ")[0], len(groups))

    def natural(clause: str) -> tuple:
        # runs of digits compare as numbers, the rest as text ((0, n) and (1, text) never compare across kinds)
        return tuple((0, int("".join(run)), "") if digits else (1, 0, "".join(run))
                     for digits, run in groupby(clause, str.isdigit))

    return sorted(clauses, key=lambda c: (groups[c.split(" ")[0]], natural(c)))


def rows_by_clause(data: ReportData) -> dict[str, list[tuple[str | None, str]]]:
    """Clause -> [(status of the finding or None when the rule was not evaluated, title in the report's language)]."""
    found = {_rule_key(f.check_id, f.condition): f for f in data.findings if f.condition}
    out: dict[str, list[tuple[str | None, str]]] = {}
    for rule in data.conditions:
        finding = found.get(_rule_key(rule.check_id, vars(rule)))
        status = str(finding.severity) if finding is not None else None
        # the rule's own title: an undecided rule's finding is titled by why it was not decided, not by its topic
        title = finding_title(rule.finding, data.lang) or f"{rule.check_id}: {rule.metric}"
        for clause in rule.clauses:
            if clause.strip() and (status, title) not in out.setdefault(clause, []):
                out[clause].append((status, title))
    return {c: out[c] for c in _order(list(out))}


def flowables(data: ReportData, t: dict[str, Any], st: dict) -> list:
    lang = data.lang
    # the heading and intro stay with the table's first row, which does not split (a document's clause with a
    # dozen findings is about 200 pt tall)
    out: list = [CondPageBreak(300), Paragraph(esc(say("report_clauses.title", lang)), st["h2"]),
                 Paragraph(esc(say("report_clauses.intro", lang)), st["body"])]
    by_clause = rows_by_clause(data)
    if not by_clause:
        return out + [Paragraph(esc(say("report_clauses.none", lang)), st["body"])]
    rows: list[list[str]] = [[say("report_clauses.clause", lang), say("report_clauses.findings", lang)]]
    for clause, items in by_clause.items():
        lines = [f"{mark(status, t['verdict'])} {esc(title)}" if status else
                 esc(render(Message("report_clauses.not_evaluated", {"title": title}), lang))
                 for status, title in items]
        rows.append([esc(clause), "<br/>".join(lines)])
    return out + [table(rows, [200, CONTENT_W - 200], st)]
