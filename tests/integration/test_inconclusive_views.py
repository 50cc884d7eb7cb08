"""An inconclusive audit as people see it: the board and full PDF (en, ja) and the desktop client.

The audit is real: the tiny BERT on 12 labelled probes under the quick template, with
artifact.parity required (no --reference is given, so it cannot run) and, re-evaluated, a probe
minimum of 64. That gives every kind of inconclusive finding: a required check that did not run,
rules whose held-out split is too small to decide (bottleneck), and one about the audit as a whole.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from reports.commands import build_report, page_count
from reports.layout import PAGE_H, PAGE_W
from reports.strings import text

LANGS = ("en", "ja")


def compact(s: str) -> str:
    return "".join(s.split())


@pytest.fixture(scope="module")
def inconclusive(tiny_bert, tmp_path_factory) -> dict:
    from auditor import api
    from auditor.templates import builtin_dir

    root = tmp_path_factory.mktemp("inconclusive")
    quick = (builtin_dir() / "quick.yaml").read_text(encoding="utf-8") + "- id: artifact.parity\n  required: true\n"
    run_with, reevaluate_with = root / "run.yaml", root / "reevaluate.yaml"
    run_with.write_text(re.sub(r"(?m)^min_probes: \d+$", "min_probes: 0", quick), encoding="utf-8")
    reevaluate_with.write_text(re.sub(r"(?m)^min_probes: \d+$", "min_probes: 64", quick), encoding="utf-8")
    db = str(root / "audits.db")
    audit_id = api.run_audit(api.AuditRequest(model=str(tiny_bert), probes="builtin:text", limit=12, db=db,
                                              device="cpu", template=str(run_with), name="tiny-bert"))
    api.reevaluate(audit_id, str(reevaluate_with), db)
    shown = api.show_audit(audit_id, db)
    assert shown["verdict"] == "inconclusive"
    keys = {f["key"] for f in shown["findings"] if f["severity"] == "inconclusive"}
    assert keys == {"check.required_missing", "evidence.insufficient", "evidence.too_few_probes"}, keys
    return {"db": db, "id": audit_id, "json": shown, "root": root}


def _actions(audit: dict, lang: str) -> set[str]:
    key = "action_ja" if lang == "ja" else "action"
    return {f[key] for f in audit["json"]["findings"] if f["severity"] == "inconclusive"}


def verdict_box_text(pdf: Path) -> str:
    """The text drawn inside the board's overall-rating box (top right, below the classification line)."""
    from pypdf import PdfReader

    parts: list[str] = []

    def visit(txt, cm, tm, _font, _size):
        x, y = cm[4] + tm[4] * cm[0], cm[5] + tm[5] * cm[3]
        if x > PAGE_W / 2 and PAGE_H - 110 < y < PAGE_H - 25:
            parts.append(txt)

    PdfReader(str(pdf)).pages[0].extract_text(visitor_text=visit)
    return compact("".join(parts))


@pytest.mark.parametrize("lang", LANGS)
def test_board_gives_the_inconclusive_verdict_and_how_to_get_the_evidence(inconclusive, tmp_path, lang):
    from tests.integration.test_reports import pdf_text

    t = text(lang)
    pdf = build_report(inconclusive["id"], tmp_path / "board.pdf", kind="board", lang=lang, db=inconclusive["db"])
    assert page_count(pdf) == 1
    box = verdict_box_text(pdf)
    assert compact(t["overall"]) in box          # the region is the verdict box
    assert compact(t["verdict"]["inconclusive"]) in box
    assert compact(t["verdict"]["pass"]) not in box and compact(t["verdict"]["warn"]) not in box
    page = compact(pdf_text(pdf)[0])
    assert compact(t["missing_title"]) in page
    for action in _actions(inconclusive, lang):
        assert compact(action) in page, action
    assert compact(t["audit_scope"]) in page      # the audit-wide finding is labelled, not a check id
    if lang == "ja":   # the reasons are in Japanese too, rebuilt from the stored English
        assert "実行されませんでした" in page and "線形プローブの評価に用いた検証用プローブは" in page
        assert "テンプレートquickには少なくとも64件が必要です" in page
        assert "didnotrun" not in page and "isnotdecided" not in page
    else:
        assert "didnotrun:noreferencemodelwasgiven" in page and "needsatleast64" in page


@pytest.mark.parametrize("lang", LANGS)
def test_full_report_counts_marks_and_registers_inconclusive_findings(inconclusive, tmp_path, lang):
    from tests.integration.test_reports import pdf_text

    t = text(lang)
    pdf = build_report(inconclusive["id"], tmp_path / "full.pdf", kind="full", lang=lang, db=inconclusive["db"])
    pages = [compact(p) for p in pdf_text(pdf)]
    checks = inconclusive["json"]["checks"]
    n = sum(1 for c in checks if c["status"] == "inconclusive")
    assert n >= 2
    counts = {s: sum(1 for c in checks if c["status"] == s) for s in ("pass", "warn", "fail")}
    intro = t["exec_intro"].format(verdict=f"? {t['verdict']['inconclusive']}", n_checks=len(checks),
                                   n_pass=counts["pass"], n_warn=counts["warn"], n_fail=counts["fail"],
                                   n_inconclusive=n, n_other=len(checks) - sum(counts.values()) - n)
    assert compact(intro) in pages[0] + pages[1]
    assert compact(t["missing_title"]) in pages[0] + pages[1]
    joined = "".join(pages)
    assert compact(t["results"]["inconclusive"].format(why="")) in joined   # parity's section says why
    assert compact(t["audit_scope"]) in joined
    for action in _actions(inconclusive, lang):
        assert compact(action) in joined


def test_inconclusive_is_never_green():
    from gui.theme import BACKGROUNDS, COLOURS
    from reports.layout import COLOUR, LIGHT, SYMBOL

    def greenish(rgb: tuple[float, float, float]) -> bool:
        r, g, b = rgb
        return g > r and g > b

    def hex_rgb(value: str) -> tuple[float, float, float]:
        return tuple(int(value[i:i + 2], 16) / 255 for i in (1, 3, 5))

    light = LIGHT["inconclusive"]
    for rgb in (hex_rgb(COLOUR["inconclusive"]), hex_rgb(COLOURS["inconclusive"]),
                hex_rgb(BACKGROUNDS["inconclusive"]), (light.red, light.green, light.blue)):
        assert not greenish(rgb), rgb
    assert SYMBOL["inconclusive"] != SYMBOL["pass"]


@pytest.mark.parametrize("lang", LANGS)
def test_gui_library_and_findings_show_inconclusive_and_the_missing_evidence(inconclusive, qtbot, tmp_path,
                                                                           monkeypatch, lang):
    monkeypatch.setenv("AUDITOR_DB", str(tmp_path / "default.db"))   # never the user's own database
    from auditor import messages
    from auditor.presentation import scope_label
    from gui.app import create_window
    from gui.settings import Settings
    from gui.strings import tr

    settings = Settings(str(tmp_path / "settings.ini"))
    settings.language = lang
    window = create_window(inconclusive["db"], settings)
    qtbot.addWidget(window)
    window.show()
    lib = window.library
    word = tr("v.inconclusive", lang)
    assert word == ("? 判定不能" if lang == "ja" else "? Inconclusive")
    assert lib.table.rowCount() == 1 and lib.table.item(0, 6).text() == word
    offered = {lib.verdict.itemData(i): lib.verdict.itemText(i) for i in range(lib.verdict.count())}
    assert offered.get("inconclusive") == word
    lib.verdict.setCurrentIndex(lib.verdict.findData("pass"))
    assert lib.table.rowCount() == 0
    lib.verdict.setCurrentIndex(lib.verdict.findData("inconclusive"))
    assert lib.table.rowCount() == 1
    lib.table.selectRow(0)
    lib.open_selected()
    page = window.findings
    assert word in page.verdict.text()
    assert page.missing.isVisible()
    shown = compact(html.unescape(re.sub(r"<[^>]+>", "", page.missing.text())))
    assert compact(messages.text("missing.title", lang)) in shown and compact(scope_label("audit", lang)) in shown
    for action in _actions(inconclusive, lang):
        assert compact(action) in shown
