"""The audit library shows decisions first (issue 17): each audit's sign-off state beside its verdict and
evidence state, re-read when the state says an audit changed; full keyboard use (Tab leaves the table,
Enter opens a row); long names elided with the full text in tooltip and for screen readers; an empty
database says so instead of showing an empty table; Japanese without English sign-off words."""
from __future__ import annotations

import re
import sqlite3

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from auditor import api
from gui.pages.library import EVIDENCE, MODEL, SIGNOFF, STARTED, STATUS

LONG_NAME = ("Acme-Corporate-Retrieval-Encoder-multilingual-base-finetuned-on-customer-support-tickets-"
             "2025-Q3-release-candidate-with-extended-context-")[:150].ljust(150, "x")


def _copy(source: str, target) -> str:
    """A consistent copy of the shared fixture database (sqlite3's online backup), so signing changes no other test."""
    src, dst = sqlite3.connect(source), sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return str(target)


@pytest.fixture
def library_on(make_window, two_audits, tmp_path):
    """A window at 1366x768 on a copy of the two stored quick audits, and that copy's path."""
    def make(prepare=None):
        db = _copy(two_audits["db"], tmp_path / "copy.db")
        if prepare is not None:
            prepare(db)
        window = make_window(db)
        window.resize(1366, 768)
        return window, window.library, db
    return make


def _row_of(lib, audit_id: str) -> int:
    return next(r for r in range(lib.table.rowCount()) if lib.table.item(r, 0).text() == audit_id)


def _signoff_cell(lib, audit_id: str):
    return lib.table.item(_row_of(lib, audit_id), SIGNOFF)


def _sign_reviewer_conditions_approver_rejects(audit_id: str, db: str) -> None:
    # the machine key may sign a review and a rejection (auditor.duties: only an approval needs an identity)
    api.sign_audit(audit_id, "reviewer", "Sato", "conditions", db)
    api.sign_audit(audit_id, "approver", "Suzuki", "reject", db)


def test_signoff_state_shown_after_signing_and_updated_on_state_changed(library_on, two_audits, qtbot):
    window, lib, db = library_on()
    first, second = two_audits["ids"]
    assert lib.table.horizontalHeaderItem(SIGNOFF).text() == "Sign-off"
    assert _signoff_cell(lib, first).text() == "○ Not signed off"
    _sign_reviewer_conditions_approver_rejects(first, db)
    assert _signoff_cell(lib, first).text() == "○ Not signed off"      # nothing polls: the state signal re-reads
    window.state.changed(first)
    qtbot.waitUntil(lambda: _signoff_cell(lib, first).text() == "✗ Rejected by the approver", timeout=3000)
    cell = _signoff_cell(lib, first)
    line = cell.toolTip()
    assert line.startswith("Rejected by the approver. Reviewer: Approve with conditions (Sato, ")
    assert "; Approver: Reject (Suzuki, " in line and line.endswith(" UTC)")
    assert cell.data(Qt.ItemDataRole.AccessibleTextRole) == f"Sign-off: {line}"
    assert cell.data(Qt.ItemDataRole.AccessibleDescriptionRole) == line
    assert _signoff_cell(lib, second).text() == "○ Not signed off"     # the other audit is untouched
    # the evidence (verification) column is still there beside it
    assert lib.table.horizontalHeaderItem(EVIDENCE).text() == "Evidence"
    # a re-evaluation makes those sign-offs earlier ones: never shown as the current decision
    from tests.fixtures.templates import no_minimum

    api.reevaluate(first, no_minimum("quick"), db)
    window.state.changed(first)
    qtbot.waitUntil(lambda: _signoff_cell(lib, first).text() == "↻ Re-evaluated since sign-off", timeout=3000)
    assert "of an earlier evaluation" in _signoff_cell(lib, first).toolTip()


def test_the_list_query_reads_signoffs_in_one_statement(two_audits, tmp_path):
    import sqlite_utils

    from auditor.store import queries

    db = _copy(two_audits["db"], tmp_path / "one.db")
    first = two_audits["ids"][0]
    api.sign_audit(first, "preparer", "Sato", "approve", db)
    api.sign_audit(first, "reviewer", "Tanaka", "approve", db)
    handle = sqlite_utils.Database(sqlite3.connect(db))
    statements: list[str] = []
    handle.conn.set_trace_callback(statements.append)
    rows = {r["audit_id"]: r for r in queries.list_audits(handle)}
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements
    assert [(s["role"], s["name"], s["decision"], s["current"]) for s in rows[first]["signoffs"]] == [
        ("preparer", "Sato", "approve", True), ("reviewer", "Tanaka", "approve", True)]
    assert rows[two_audits["ids"][1]]["signoffs"] == []
    # the existing fields of `auditor list --json` are all still there (additions only)
    assert {"audit_id", "status", "verdict", "name", "version", "template", "started_at", "finished_at",
            "model_sha256", "format", "architecture"} <= set(rows[first])


def test_enter_on_a_row_opens_that_audit(library_on, two_audits, qtbot):
    window, lib, _db = library_on()
    target = two_audits["ids"][1]
    lib.table.setFocus()
    lib.table.setCurrentCell(_row_of(lib, target), 0)
    QTest.keyClick(lib.table, Qt.Key.Key_Return)
    assert window.state.audit_id == target and window.stack.currentWidget() is window.findings
    window.show_page("library")
    other = two_audits["ids"][0]
    lib.table.setCurrentCell(_row_of(lib, other), 3)
    QTest.keyClick(lib.table, Qt.Key.Key_Enter)                 # the keypad's Enter too
    assert window.state.audit_id == other


def test_tab_leaves_the_table_and_reaches_every_control(library_on, qtbot):
    window, lib, _db = library_on()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    lib.search.setFocus()
    seen = [QApplication.focusWidget()]
    for _ in range(4):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget())
    assert seen == [lib.search, lib.verdict, lib.refresh_button, lib.open_button, lib.table]
    lib.table.setCurrentCell(0, 0)
    QTest.keyClick(lib.table, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not lib.table
    assert lib.table.currentColumn() == 0                       # Tab did not walk along the row's cells


def test_long_names_elide_with_the_full_name_in_tooltip_and_for_screen_readers(library_on, two_audits, qtbot):
    def rename(db: str) -> None:
        # a name as long as an officer met (150 characters); set in SQL so the test needs no third model run
        with sqlite3.connect(db) as handle:
            handle.execute("UPDATE audits SET name = ? WHERE id = ?", [LONG_NAME, two_audits["ids"][0]])
        handle.close()

    window, lib, _db = library_on(rename)
    qtbot.waitUntil(lambda: lib.table.columnWidth(MODEL) > 50, timeout=3000)
    cell = lib.table.item(_row_of(lib, two_audits["ids"][0]), MODEL)
    assert len(LONG_NAME) == 150 and cell.text() == LONG_NAME
    assert cell.toolTip() == LONG_NAME and cell.data(Qt.ItemDataRole.AccessibleTextRole) == LONG_NAME
    # it is elided on screen: the column is narrower than the name, and the page needs no horizontal scrolling
    assert lib.table.columnWidth(MODEL) < lib.table.fontMetrics().horizontalAdvance(LONG_NAME)
    assert not lib.table.horizontalScrollBar().isVisible()
    assert lib.table.textElideMode() == Qt.TextElideMode.ElideRight


def test_japanese_mode_shows_no_english_signoff_words(library_on, two_audits, qtbot):
    first = two_audits["ids"][0]
    window, lib, _db = library_on(lambda db: _sign_reviewer_conditions_approver_rejects(first, db))
    window.set_language("ja")
    assert lib.table.horizontalHeaderItem(SIGNOFF).text() == "承認状況"
    cell = _signoff_cell(lib, first)
    assert cell.text() == "✗ 承認者が却下"
    texts = [cell.text(), cell.toolTip(), cell.data(Qt.ItemDataRole.AccessibleTextRole),
             _signoff_cell(lib, two_audits["ids"][1]).toolTip()]
    assert texts[1].startswith("承認者が却下。審査者：条件付き承認（Sato、") and "承認者：却下（Suzuki、" in texts[1]
    for text in texts:                  # only the signers' names and "UTC" are Latin letters
        assert not re.search("[A-Za-z]", text.replace("Sato", "").replace("Suzuki", "").replace("UTC", "")), text


def test_controls_have_mnemonics_and_accessible_names_in_both_languages(library_on):
    window, lib, _db = library_on()
    for lang, names in (("en", ["Search audits", "Verdict filter", "Refresh", "Open findings", "Audits"]),
                        ("ja", ["監査を検索", "判定で絞り込み", "更新", "所見を開く", "監査の一覧"])):
        window.set_language(lang)
        widgets = [lib.search, lib.verdict, lib.refresh_button, lib.open_button, lib.table]
        assert [w.accessibleName() for w in widgets] == names
        assert all(w.accessibleDescription() for w in widgets)
        assert all("&" in b.text() for b in (lib.refresh_button, lib.open_button, lib.search_label, lib.verdict_label))
        assert lib.search_label.buddy() is lib.search and lib.verdict_label.buddy() is lib.verdict
    assert not lib.table.tabKeyNavigation()


def test_an_empty_database_says_so_instead_of_showing_an_empty_table(make_window, library_on):
    window = make_window()
    lib = window.library
    assert lib.body.currentWidget() is lib.empty_panel and not lib.table.isVisible()
    assert "No audits yet" in lib.empty.text() and "New audit" in lib.empty.text()
    assert lib.empty.accessibleName() == "No audits yet" and not lib.open_button.isEnabled()
    window.set_language("ja")
    assert "監査はまだありません" in lib.empty.text()
    # a search that matches nothing says that, not "no audits"
    window, lib, _db = library_on()
    window.set_language("en")          # the same settings file: the language chosen above persisted
    lib.search.setText("no such model")
    assert lib.body.currentWidget() is lib.empty_panel and "No audit matches" in lib.empty.text()
    lib.search.clear()
    assert lib.body.currentWidget() is lib.table and lib.table.rowCount() == 2


def _arrow_rows(table, section: int) -> list[int]:
    """How wide the drawn sort arrow is on each of its pixel rows, top to bottom: the pixels of the section
    that change when the indicator is hidden (its label blanked meanwhile, so a centred label cannot shift;
    compared at the section's own left edge in each image, as hiding the arrow resizes other columns)."""
    header, item = table.horizontalHeader(), table.horizontalHeaderItem(section)
    label = item.text()
    item.setText("")
    images = []
    for shown in (True, False):
        header.setSortIndicatorShown(shown)
        images.append((header.grab().toImage(), header.sectionViewportPosition(section)))
    header.setSortIndicatorShown(True)
    item.setText(label)
    (on, left_on), (off, left_off) = images
    width = min(header.sectionSize(section), on.width() - left_on, off.width() - left_off)
    widths = [sum(on.pixel(left_on + x, y) != off.pixel(left_off + x, y) for x in range(width))
              for y in range(on.height())]
    return [w for w in widths if w]


def test_rows_run_newest_first_and_the_sort_arrow_points_down(library_on, two_audits):
    """The list is sorted by Started, newest first, and the header says so: the arrow points down (it used to
    sit on Audit ID pointing up, which reads as ascending, above rows that ran newest first)."""
    window, lib, _db = library_on()
    header = lib.table.horizontalHeader()
    assert header.sortIndicatorSection() == STARTED and header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    started = [lib.table.item(r, STARTED).text() for r in range(lib.table.rowCount())]
    assert started == sorted(started, reverse=True) and lib.table.item(0, 0).text() == two_audits["ids"][1]
    rows = _arrow_rows(lib.table, STARTED)
    assert len(rows) >= 3 and rows[0] > rows[-1], rows            # wide at the top: ▼
    lib.table.sortByColumn(STARTED, Qt.SortOrder.AscendingOrder)  # and ▲ when the user sorts oldest first
    rows = _arrow_rows(lib.table, STARTED)
    assert rows[0] < rows[-1], rows
    assert lib.table.item(0, 0).text() == two_audits["ids"][0]


def test_failed_has_its_own_colour_and_cancelled_is_neutral_grey(library_on, two_audits):
    """A failed run in the error purple, a cancelled one in grey: no longer the same amber, each readable."""
    from PySide6.QtGui import QColor

    from auditor.store import open_db, records
    from gui.theme import COLOURS
    from gui.widgets.library_model import contrast, run_colour
    from tests.fixtures.stored import make_audit

    ids = {}

    def add_runs(db: str) -> None:
        for status in ("cancelled", "failed"):
            ids[status] = make_audit(db, complete=False)
            handle = open_db(db)
            records.fail_audit(handle, ids[status], "stopped", status=status)
            handle.conn.close()

    window, lib, _db = library_on(add_runs)
    colours = {status: lib.table.item(_row_of(lib, audit_id), STATUS).foreground().color().name()
               for status, audit_id in ids.items()}
    assert colours == {"failed": COLOURS["error"], "cancelled": COLOURS["not_assessed"]}
    assert run_colour("interrupted").name() == COLOURS["not_assessed"] and run_colour("completed") is None
    for status in ("failed", "cancelled", "interrupted", "running"):
        assert contrast(run_colour(status), QColor("#ffffff")) >= 4.5, status
    completed = lib.table.item(_row_of(lib, two_audits["ids"][0]), STATUS)
    assert completed.text() == "completed" and completed.foreground().style() == Qt.BrushStyle.NoBrush
