"""Each audit's evidence state in the GUI (issue 16): the library's Evidence column and the findings page's
header say what api.verify_audit says, in English and Japanese, and for screen readers as well."""
import shutil
import sqlite3

import pytest
from PySide6.QtCore import Qt

from auditor import api
from gui.pages.library import EVIDENCE
from gui.widgets import verification

STATE = Qt.ItemDataRole.UserRole + 1


@pytest.fixture(autouse=True)
def _fresh_cache():
    verification.forget()
    yield
    verification.forget()


@pytest.fixture
def copy(tmp_path, two_audits):
    path = tmp_path / "copy.db"
    shutil.copyfile(two_audits["db"], path)
    return path


def _rows(qtbot, window) -> dict[str, object]:
    """The library's evidence cells by audit id, once no cell says it is still checking."""
    table = window.library.table
    column = EVIDENCE

    def cells():
        return {table.item(r, column).data(Qt.ItemDataRole.UserRole): table.item(r, column)
                for r in range(table.rowCount())}
    qtbot.waitUntil(lambda: all(c.data(STATE) != verification.CHECKING for c in cells().values()), timeout=20000)
    assert table.horizontalHeaderItem(column).text() in ("Evidence", "証跡")
    return cells()


def _header(qtbot, window, audit_id: str):
    """The findings page's evidence line for `audit_id`, once checked."""
    window.state.open_audit(audit_id)
    label = window.findings.evidence
    qtbot.waitUntil(lambda: label.evidence is not None and label.evidence.state != verification.CHECKING,
                    timeout=20000)
    return label


def _tamper(path, audit_id: str) -> str:
    """One stored figure of `audit_id` changed directly in SQLite, nothing else; the check it belongs to."""
    with sqlite3.connect(path) as conn:
        rowid, check_id = conn.execute("SELECT rowid, check_id FROM metrics WHERE audit_id = ? AND value IS NOT NULL "
                                       "ORDER BY rowid LIMIT 1", [audit_id]).fetchone()
        conn.execute("UPDATE metrics SET value = value + 0.25 WHERE rowid = ?", [rowid])
    conn.close()
    return check_id


def test_intact_audits_show_verified_with_their_signer_in_en_and_ja(qtbot, make_window, copy, two_audits):
    window = make_window(copy)
    cells = _rows(qtbot, window)
    assert set(cells) == set(two_audits["ids"])
    for item in cells.values():
        assert item.data(STATE) == verification.VERIFIED and item.text() == "✓ Verified"
        assert item.toolTip().startswith("Verified: signed record intact (signed by auditor machine key (")
        assert item.toolTip().endswith("), machine key)")
        assert item.data(Qt.ItemDataRole.AccessibleTextRole).startswith("Evidence: Verified: signed record intact")
    label = _header(qtbot, window, two_audits["ids"][0])
    assert label.isVisible() and "✓" in label.text()
    assert label.accessibleName().startswith("Evidence: Verified: signed record intact (signed by auditor machine")
    window.set_language("ja")
    assert label.accessibleName().startswith("証跡：検証済み：署名された記録は改ざんされていません（署名者：auditor machine")
    assert "マシン鍵）。" in label.accessibleDescription()
    cells = _rows(qtbot, window)
    assert {c.text() for c in cells.values()} == {"✓ 検証済み"}


def test_a_metric_changed_in_sqlite_shows_broken_with_the_reason(qtbot, make_window, copy, two_audits):
    target, other = two_audits["ids"]
    window = make_window(copy)
    assert _rows(qtbot, window)[target].data(STATE) == verification.VERIFIED
    check_id = _tamper(copy, target)
    window.library.refresh()          # the file changed: the cached answer no longer counts
    cells = _rows(qtbot, window)
    broken = cells[target]
    assert broken.data(STATE) == verification.BROKEN and broken.text() == "✗ Broken"
    reason = broken.toolTip().splitlines()[0]
    assert reason.startswith(f"Broken: audit {target}: the stored results of check ")
    assert f"({check_id}) differ from what event " in reason and reason.endswith(" signed")
    assert broken.data(Qt.ItemDataRole.AccessibleTextRole) == f"Evidence: {reason}"
    # the problem names the one audit; the other's figures and the chain are intact
    assert cells[other].data(STATE) == verification.VERIFIED
    label = _header(qtbot, window, target)
    assert label.evidence.state == verification.BROKEN and label.accessibleName() == f"Evidence: {reason}"
    assert "✗" in label.text()
    window.set_language("ja")
    assert label.accessibleName().startswith(f"証跡：検証失敗：監査 {target}：チェック 「")
    assert f"（{check_id}） の保存結果が、イベント " in label.accessibleName()
    assert _rows(qtbot, window)[target].text() == "✗ 検証失敗"


def test_the_library_shares_one_walk_as_verify_audit_answers_each_audit(copy, two_audits):
    """The library checks every audit in one walk of the chain: the same answer as one audit at a time."""
    target = two_audits["ids"][0]
    _tamper(copy, target)
    together = verification.check(str(copy), two_audits["ids"])
    for audit_id in two_audits["ids"]:
        alone = api.verify_audit(audit_id, str(copy), allow_unsigned=True)
        assert list(together[audit_id].problems) == alone.problems
        assert (together[audit_id].state == verification.VERIFIED) is alone.ok
    assert together[target].state == verification.BROKEN


def test_an_audit_recorded_before_signing_is_not_signed(qtbot, make_window, tmp_path):
    from auditor.store import open_db
    from tests.unit.test_store import AUDIT, _schema_2_database

    path = tmp_path / "old.db"
    _schema_2_database(path)
    with sqlite3.connect(path) as conn:
        for kind in ("created", "completed"):
            conn.execute("INSERT INTO events (audit_id, at, actor, kind, detail_json) VALUES (?, ?, 'a', ?, '{}')",
                         [AUDIT, "2026-01-01T00:00:00+00:00", kind])
        # that fixture stores no recommended action, which the findings page's cards cannot show yet
        conn.execute("UPDATE findings SET action = 'Review the figures.'")
    conn.close()
    open_db(path).conn.close()        # migrations chain the old events, unsigned
    window = make_window(path)
    cell = _rows(qtbot, window)[AUDIT]
    assert cell.data(STATE) == verification.UNSIGNED and cell.text() == "– Not signed"
    assert cell.toolTip() == "Not signed (recorded before signing existed)"
    label = _header(qtbot, window, AUDIT)
    assert label.accessibleName() == "Evidence: Not signed (recorded before signing existed)"
    window.set_language("ja")
    assert label.accessibleName() == "証跡：署名なし（署名機能の導入前に記録）。"


def test_a_check_that_ends_after_its_widget_was_deleted_is_cached_and_nothing_else(qtbot, copy, two_audits):
    """A window closed while a check runs: the answer is kept, the dead widget is not touched (it used to raise
    'Internal C++ object already deleted' from the library's filter)."""
    from PySide6.QtWidgets import QLineEdit
    from shiboken6 import delete

    audit_id = two_audits["ids"][0]
    owner = QLineEdit()
    calls = []
    verification.check_later(str(copy), [audit_id], lambda: calls.append(owner.text()), owner)
    delete(owner)
    qtbot.waitUntil(lambda: verification.cached(str(copy), audit_id) is not None, timeout=20000)
    assert calls == []
    alive = QLineEdit()
    qtbot.addWidget(alive)
    verification.forget()
    verification.check_later(str(copy), [audit_id], lambda: calls.append("done"), alive)
    qtbot.waitUntil(lambda: calls == ["done"], timeout=20000)
