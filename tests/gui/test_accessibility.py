"""Every page as a screen reader and a keyboard meet it (issue 17 item 5), in English and Japanese.

With a real audit open, each page is shown through the page list and gui.a11y.problems lists the visible
interactive widgets without an accessible name, the controls Tab cannot reach (real Tab presses), a table
that keeps Tab, and a control that takes the File or Go menu's Alt+letter. The checker itself is tested on
a small window holding each kind of problem.
"""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from gui import a11y
from gui.main_window import PAGES

SMALL = (960, 540)      # 1920x1080 at 200 % scaling, in the logical pixels Qt lays out in


def _walk(window, qtbot, check) -> dict[str, list[str]]:
    found = {}
    for name in PAGES:
        window.show_page(name)
        qtbot.wait(30)                   # the window's deferred keyboard pass and the page's own updates
        found[name] = check(window)
    return found


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_page_has_names_and_a_tab_order_that_reaches_every_control(make_window, qtbot, two_audits, lang):
    window = make_window(two_audits["db"])
    window.set_language(lang)
    window.activateWindow()
    window.state.open_audit(two_audits["ids"][1])
    found = _walk(window, qtbot, a11y.problems)
    assert not any(found.values()), "\n".join(f"{page}: {p}" for page, lines in found.items() for p in lines)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_page_fits_at_200_percent_scaling(make_window, qtbot, two_audits, lang):
    window = make_window(two_audits["db"])
    window.set_language(lang)
    window.state.open_audit(two_audits["ids"][1])
    window.resize(*SMALL)
    found = _walk(window, qtbot, lambda w: a11y.clipped(w, *SMALL))
    assert not any(found.values()), "\n".join(f"{page}: {p}" for page, lines in found.items() for p in lines)


class DemoPage(QWidget):
    """A page as the window's pages are named (problems are reported by the page they lie on)."""


def _window_with_problems(qtbot):
    window = QMainWindow()
    window.menuBar().addMenu("&File")
    body = QWidget()
    outer = QVBoxLayout(body)
    window_label = QLabel("&Language:")          # the window's own control, outside the pages: takes Alt+L
    language = QComboBox(accessibleName="Language")
    window_label.setBuddy(language)
    page = DemoPage()
    layout = QVBoxLayout(page)
    for w in (window_label, language, page):
        outer.addWidget(w)
    named = QLineEdit(accessibleName="Model path")
    label = QLabel("&Template:")
    labelled = QComboBox()
    label.setBuddy(labelled)
    unnamed_edit, unnamed_combo = QLineEdit(), QComboBox()       # a combo's value is not its name
    unnamed_combo.addItem("standard")
    trap = QTableWidget(3, 2, accessibleName="Findings")
    after_trap = QPushButton("&Open")
    unfocusable = QPushButton("&Run")
    unfocusable.setFocusPolicy(unfocusable.focusPolicy().NoFocus)
    clash, clash_window = QPushButton("&Filter"), QPushButton("&Load")
    tiny = QPushButton("A long button text that cannot fit")
    tiny.setFixedWidth(30)
    for w in (named, label, labelled, unnamed_edit, unnamed_combo, trap, after_trap, unfocusable, clash,
              clash_window, tiny):
        layout.addWidget(w)
    window.setCentralWidget(body)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window, locals()


def test_the_checker_finds_each_kind_of_problem(qtbot):
    window, w = _window_with_problems(qtbot)
    found = {(kind, id(widget)) for kind, widget in a11y.problem_widgets(window)}
    assert found == {("no accessible name", id(w["unnamed_edit"])), ("no accessible name", id(w["unnamed_combo"])),
                     ("cannot take keyboard focus", id(w["unfocusable"])), ("Tab stays inside", id(w["trap"]))}
    assert a11y.mnemonic_clashes(window) == [f"Alt+F is the File menu and also: {a11y.describe(w['clash'])}",
                                             f"Alt+L is the window's Language: and also: "
                                             f"{a11y.describe(w['clash_window'])}"]
    assert a11y.accessible_name(w["labelled"]) == "Template:" and a11y.accessible_name(w["unnamed_combo"]) == ""
    assert a11y.describe(w["unnamed_combo"]) == "DemoPage QComboBox 'standard'"
    assert a11y.describe(w["language"]) == "window QComboBox 'Language'"
    assert [line for line in a11y.clipped(window, 2000, 2000) if "smaller than its content" in line] == [
        f"smaller than its content (30x{w['tiny'].height()} < {w['tiny'].minimumSizeHint().width()}x"
        f"{w['tiny'].minimumSizeHint().height()}): {a11y.describe(w['tiny'])}"]
    a11y.apply(window)
    assert not w["trap"].tabKeyNavigation()
    assert not any(kind == "Tab stays inside" for kind, _ in a11y.problem_widgets(window))
