"""The window by keyboard (issue 17 item 5): menus with mnemonics, shortcuts, page keys, Tab out of tables."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QTableWidget

from gui import a11y
from gui.main_window import PAGES

SHORTCUTS = {"new_audit": ("Ctrl+N", "new"), "compare": ("Ctrl+M", "compare"), "export": ("Ctrl+E", "export")}


def _active(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    return window


def _press(widget, sequence: str) -> None:
    combo = QKeySequence(sequence)[0]
    QTest.keyClick(widget, combo.key(), combo.keyboardModifiers())


@pytest.mark.parametrize("lang, title", [("en", "&File"), ("ja", "ファイル(&F)")])
def test_alt_f_opens_the_file_menu_in_both_languages(make_window, qtbot, lang, title):
    window = _active(qtbot, make_window())
    window.set_language(lang)
    assert window.file_menu.title() == title
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(window.file_menu.isVisible, timeout=2000)
    window.file_menu.close()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_menu_item_has_a_mnemonic_and_the_named_shortcuts(make_window, lang):
    window = make_window()
    window.set_language(lang)
    items = [a for menu in (window.file_menu, window.go_menu) for a in menu.actions() if not a.isSeparator()]
    assert len(items) == 6 + len(PAGES)
    for action in items:
        assert "&" in action.text() and action.text().replace("&", "").strip(), action.text()
        if lang == "ja":      # Japanese items carry the letter in brackets after the words: 終了(&Q)
            assert "(&" in action.text(), action.text()
    shortcuts = {name: a.shortcut().toString() for name, a in window.actions_by_name.items()}
    assert shortcuts == {"new_audit": "Ctrl+N", "open_db": "Ctrl+O", "connect": "Ctrl+Shift+O", "compare": "Ctrl+M",
                         "export": "Ctrl+E", "quit": "Ctrl+Q"}
    assert [a.shortcut().toString() for a in window.page_actions] == [f"Ctrl+{n}" for n in range(1, 8)]


def test_shortcuts_show_their_pages_and_put_the_focus_there(make_window, qtbot):
    window = _active(qtbot, make_window())
    for name, (sequence, page) in SHORTCUTS.items():
        window.show_page("library")
        window.nav.setFocus()
        _press(window, sequence)
        assert window.stack.currentWidget() is window.page(page), name
        focus = QApplication.focusWidget()
        assert focus is not None and window.page(page).isAncestorOf(focus), (name, focus)
    for number, page in enumerate(PAGES, start=1):
        _press(window, f"Ctrl+{number}")
        assert window.stack.currentWidget() is window.page(page) and window.nav.currentRow() == number - 1


def test_ctrl_o_opens_a_database_and_ctrl_q_quits(make_window, qtbot, tmp_path, monkeypatch):
    chosen = tmp_path / "other.db"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(chosen), ""))
    window = _active(qtbot, make_window())
    _press(window, "Ctrl+O")
    assert window.state.db == str(chosen) and chosen.exists()
    assert str(chosen) in window.db_label.text()
    _press(window, "Ctrl+Q")
    assert not window.isVisible()


def test_page_list_and_language_chooser_are_named_and_keyboard_driven(make_window, qtbot):
    window = _active(qtbot, make_window())
    for lang, nav, language in (("en", "Pages", "Language"), ("ja", "ページ", "言語")):
        window.set_language(lang)
        assert QAccessible.queryAccessibleInterface(window.nav).text(QAccessible.Text.Name) == nav
        assert window.nav.accessibleDescription() and window.language.accessibleDescription()
        # on Linux Qt names a combo box by its value and gives the label as a relation (what Orca reads)
        assert a11y.accessible_name(window.language) == language
        labels = QAccessible.queryAccessibleInterface(window.language).relations(QAccessible.Relation.Label)
        assert [language in r.text(QAccessible.Text.Name) for r, _ in labels] == [True]
    window.set_language("en")
    QTest.keyClick(window, Qt.Key.Key_U, Qt.KeyboardModifier.AltModifier)   # the label's buddy
    assert QApplication.focusWidget() is window.language
    window.nav.setFocus()
    window.nav.setCurrentRow(0)
    QTest.keyClick(window.nav, Qt.Key.Key_Down)
    assert window.stack.currentWidget() is window.new_audit
    QTest.keyClick(window.nav, Qt.Key.Key_Return)
    focus = QApplication.focusWidget()
    assert focus is not None and window.new_audit.isAncestorOf(focus)


def test_tab_leaves_tables_after_the_safety_net(make_window, qtbot):
    window = _active(qtbot, make_window())
    trap = QTableWidget(3, 3, window.library)      # a table as Qt makes it: Tab moves between cells
    window.library.layout().addWidget(trap)
    trap.setAccessibleName("trap")
    qtbot.waitUntil(lambda: trap.isVisible() and len(window._pages) == len(PAGES), timeout=5000)
    qtbot.waitUntil(lambda: not window._a11y_timer.isActive(), timeout=2000)
    trap.setTabKeyNavigation(True)
    _, traps = a11y.tab_walk(window)
    assert trap in traps
    a11y.apply(window)
    assert not trap.tabKeyNavigation()
    trap.setFocus()
    QTest.keyClick(trap, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not trap
