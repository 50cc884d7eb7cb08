"""The findings page of a real stored MiniLM audit in Japanese: every sentence the catalogue renders is
Japanese (summaries, findings, missing evidence, chart titles, axes, series and threshold lines), and
progress lines of the worker are rendered from their catalogue key in the GUI's language."""
from __future__ import annotations

import html
import json
import re

from PySide6.QtWidgets import QLabel, QTableWidget

from auditor.messages import Message
from gui.widgets.charts import BarChart, HeatMap, LineChart
from gui.worker import progress_text

# three or more ASCII words in a row (joined by spaces or punctuation) read as an English sentence; single
# tokens are allowed: ids (flow.pde), metric names (pde_r2), numbers, units, acronyms (KDE, PCA, R²)
ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'-]+(?:[ ,;:()]+[A-Za-z][A-Za-z'-]+){2,}")
TAG = re.compile(r"<[^>]+>")
# a command line quoted inside a sentence (auditor audit MODEL --reference OTHER_FORMAT) is not English prose
COMMAND = re.compile(r"auditor [a-z-]+(?: [A-Z_]+| --[a-z-]+)*")


def _plain(text: str) -> str:
    return html.unescape(TAG.sub(" ", text))


def _chart_texts(widget) -> list[str]:
    if isinstance(widget, LineChart):
        spec = widget.spec
        return [spec.title, spec.x_label, spec.y_label, *(s.label for s in spec.series),
                *(label for label, _, _ in spec.thresholds)]
    if isinstance(widget, HeatMap):
        return [widget.title, widget.x_label, widget.y_label]
    return [widget.title, widget.value_label, *(name for name, _ in widget.items)]


def _visible_texts(page) -> list[tuple[str, str]]:
    """(where, text) of every label, list item, table cell and chart text the page shows now."""
    out = [("header", _plain(page.title.text())), ("verdict", page.verdict.text())]
    if page.missing.isVisible():
        out.append(("missing", _plain(page.missing.text())))
    for dim, tile in page.tiles.items():
        out += [(f"tile {dim}", _plain(label.text())) for label in (tile.name, tile.rating, tile.trend)]
    out += [("check list", page.checks.item(i).text()) for i in range(page.checks.count())]
    for label in page.detail.findChildren(QLabel):
        out.append(("detail", _plain(label.text())))
    for table in page.detail.findChildren(QTableWidget):
        out += [("figures", table.horizontalHeaderItem(c).text()) for c in range(table.columnCount())]
        out += [("figures", table.item(r, 0).text()) for r in range(table.rowCount())]
    for kind in (LineChart, HeatMap, BarChart):
        for chart in page.detail.findChildren(kind):
            out += [("chart", text) for text in _chart_texts(chart)]
    return out


def test_the_findings_page_of_a_minilm_audit_speaks_japanese(make_window, minilm_audit, tmp_path):
    window = make_window(minilm_audit["db"])
    window.set_language("ja")
    audit_id = minilm_audit["json"]["audit_id"]
    window.state.open_audit(audit_id)
    page = window.findings
    view = page.view
    assert view.audit_id == audit_id and page.checks.count() == len(view.checks) > 5
    # framework clauses are citations of the template (EU AI Act Art. 15), not sentences of ours
    clauses = {c for f in view.findings for c in f.clauses}
    english, charts, seen = [], 0, set()
    for row, check in enumerate(view.checks):
        page.checks.setCurrentRow(row)
        charts += len(page.detail.findChildren(LineChart) + page.detail.findChildren(HeatMap)
                      + page.detail.findChildren(BarChart))
        assert check.summary_in("ja") in " ".join(_plain(x.text()) for x in page.detail.findChildren(QLabel))
        for where, text in _visible_texts(page):
            for clause in clauses:
                text = text.replace(clause, " ")
            text = COMMAND.sub(" ", text)
            for run in ENGLISH_RUN.findall(text):
                if (check.id, run) not in seen:
                    seen.add((check.id, run))
                    english.append(f"{check.id} [{where}]: {run!r} in {text[:120]!r}")
    assert not english, "\n".join(english)
    assert charts >= 8     # every declared chart the MiniLM's metrics fill is drawn
    page.select_check("flow.representation")
    window.resize(1400, 1000)
    shot = tmp_path / "findings_ja.png"
    assert window.grab().save(str(shot)) and shot.stat().st_size > 10_000


def test_progress_lines_are_rendered_from_their_key_in_the_gui_language():
    from auditor.progress import Progress

    lines = []
    Progress(lambda f, text, said: lines.append({"event": "progress", "fraction": f, "message": text,
                                                 **said.to_json()})).slice(0.0, 1.0, "capture",
                                                                           Message("progress.capture"))(
        0.5, Message("progress.capture.probes", {"done": 3, "total": 8}))
    event = json.loads(json.dumps(lines[0]))          # as the worker reads it from the jsonl line
    assert progress_text(event, "en") == event["message"] == "capture: captured 3/8 probes"
    assert progress_text(event, "ja") == "取得：プローブ8件中3件を取得しました"
    # an unknown key (a newer engine) or a line without one falls back to the English message
    assert progress_text({**event, "key": "progress.someday"}, "ja") == event["message"]
    assert progress_text({"event": "progress", "message": "loading", "key": None, "params": {}}, "ja") == "loading"


def test_missing_evidence_is_grouped_from_the_findings_sentences_in_japanese(make_window, two_audits):
    from auditor.presentation import missing_evidence

    window = make_window(two_audits["db"])
    window.set_language("ja")
    window.state.open_audit(two_audits["ids"][1])
    page = window.findings
    found = [f for f in page.view.findings if f.severity == "inconclusive"]
    assert found and page.missing.isVisible()
    shown = _plain(page.missing.text())
    causes = missing_evidence(page.view.findings, "ja")
    # one line per cause: rules of one check stopped by one reason (finding.not_decided) read once
    assert len(causes) == len({(f.check_id, f.sentences[0].key) for f in found}) <= len(found)
    for cause in causes:
        assert cause.reason in shown and cause.title in shown and cause.action in shown
        assert cause.reason.endswith("。") and not ENGLISH_RUN.findall(COMMAND.sub(" ", cause.reason))
    assert not ENGLISH_RUN.findall(shown)
    window.set_language("en")
    assert "Too little evidence to decide" in _plain(page.missing.text())
