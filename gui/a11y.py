"""Window-level accessibility: a keyboard safety net, and a check of what a screen reader and a keyboard meet.

`apply(root)` runs after pages are built, shown or retranslated: every table and list lets Tab leave it
(setTabKeyNavigation(False); arrows still move between cells) and every multi-line text box passes Tab on
(Ctrl+Tab is not discoverable). Pages set this on their own widgets; this catches what they miss.

`problems(root)` lists, for the widgets now visible, each interactive control without an accessible name
as Qt's accessibility bridge gives it to a screen reader (QAccessible's Name: Qt takes it from the
accessibleName, a button's text or a buddy label; a combo box's or spin box's Name is only its value, so
they need an accessibleName or a buddy), each control Tab cannot reach (real Tab presses from the first
control, so a table that keeps Tab is found), and a mnemonic that takes a menu's Alt+letter away.
`clipped(root)` lists controls cut off at the window's size (the 200 % scaling check).
"""
from __future__ import annotations

import re

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QWidget,
)

INTERACTIVE = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractItemView, QAbstractSlider,
               QTextEdit, QPlainTextEdit)
# a control's own parts, named by their owner: a spin box's line edit, a line edit's clear button, tab scrollers
_PARTS_OF = (QAbstractSpinBox, QComboBox, QLineEdit, QTabBar)
_MNEMONIC = re.compile(r"&([^&\s])")


def apply(root: QWidget) -> None:
    """Tab leaves every table, list and text box under `root` (idempotent; cheap enough to run on each page change)."""
    for view in root.findChildren(QAbstractItemView):
        if not isinstance(view, QHeaderView) and view.tabKeyNavigation():
            view.setTabKeyNavigation(False)
    for edit in (*root.findChildren(QTextEdit), *root.findChildren(QPlainTextEdit)):
        if not edit.tabChangesFocus():
            edit.setTabChangesFocus(True)


def controls(root: QWidget) -> list[QWidget]:
    """The interactive widgets under `root` that are visible now, without the parts of other controls."""
    found = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or isinstance(widget, (QHeaderView, QScrollBar)):
            continue
        parent = widget.parentWidget()
        if widget.objectName().startswith("qt_") or isinstance(parent, _PARTS_OF) \
                or (isinstance(parent, QAbstractItemView) and isinstance(widget, QAbstractButton)):
            continue     # Qt's own pieces (viewports, a table's corner button, a toolbar's overflow button)
        if widget.isVisible():
            found.append(widget)
    return found


def accessible_name(widget: QWidget, buddies: dict[int, str] | None = None) -> str:
    """The name a screen reader announces for `widget` ('' when it has none)."""
    if widget.accessibleName().strip():
        return widget.accessibleName().strip()
    if isinstance(widget, (QComboBox, QAbstractSpinBox)):   # Qt would announce the value as the name
        return (buddies if buddies is not None else _buddies(widget.window())).get(id(widget), "")
    interface = QAccessible.queryAccessibleInterface(widget)
    return (interface.text(QAccessible.Text.Name) or "").strip() if interface is not None else ""


def problems(root: QWidget) -> list[str]:
    """What a screen-reader or keyboard user cannot do on the visible part of `root`, one line each."""
    return [f"{kind}: {describe(widget)}" for kind, widget in problem_widgets(root)] + mnemonic_clashes(root)


def problem_widgets(root: QWidget) -> list[tuple[str, QWidget]]:
    """(kind, widget) for each widget problems() reports, mnemonic clashes aside."""
    found = controls(root)
    buddies = _buddies(root)
    out = [("no accessible name", w) for w in found if not accessible_name(w, buddies)]
    out += [("cannot take keyboard focus", w) for w in found
            if w.isEnabled() and not w.focusPolicy() & Qt.FocusPolicy.TabFocus]
    reached, traps = tab_walk(root)
    out += [("Tab stays inside", w) for w in traps]
    out += [("Tab cannot reach", w) for w in found
            if w.isEnabled() and w.focusPolicy() & Qt.FocusPolicy.TabFocus and id(w) not in reached]
    return out


def tab_walk(root: QWidget, limit: int = 400) -> tuple[set[int], list[QWidget]]:
    """Presses Tab from the first focusable control until focus comes back round: the ids of the widgets
    reached (with their ancestors) and the widgets that kept the focus on Tab (skipped past to go on)."""
    window = root.window()
    window.activateWindow()
    QTest.qWaitForWindowActive(window, 1000)
    chain = _focus_chain(window)
    start = next((w for w in chain if _in(w, root)), None)
    reached: set[int] = set()
    traps: list[QWidget] = []
    if start is None:
        return reached, traps
    start.setFocus(Qt.FocusReason.TabFocusReason)
    for _ in range(limit):
        current = QApplication.focusWidget()
        if current is None:
            break
        reached.update(id(w) for w in _lineage(current))
        QTest.keyClick(current, Qt.Key.Key_Tab)
        after = QApplication.focusWidget()
        if after is current:            # Tab was eaten: go on from the next control in the chain
            traps.append(current)
            following = _after(chain, current)
            if following is None or following is start:
                break
            following.setFocus(Qt.FocusReason.TabFocusReason)
        elif after is start or after is None:
            break
    return reached, traps


def first_focusable(root: QWidget) -> QWidget | None:
    """The first control under `root` that Tab stops at (where Return on the page list puts the focus)."""
    return next((w for w in _focus_chain(root.window()) if root.isAncestorOf(w)), None)


def mnemonic_clashes(root: QWidget) -> list[str]:
    """Alt+letter of a menu title, or of the window's own controls outside the pages (the language label),
    also used by a visible control on a page: Alt+F must open File, nothing else."""
    window = root.window()
    if not isinstance(window, QMainWindow):
        return []
    taken = {}
    for action in window.menuBar().actions():
        letter = _mnemonic(action.text())
        if letter:
            taken[letter] = f"the {action.text().replace('&', '')} menu"
    labelled = [(w, _mnemonic(_label_text(w))) for w in root.findChildren(QWidget) if w.isVisible() and _label_text(w)]
    on_pages = [(w, letter) for w, letter in labelled if letter and _page_of(w)]
    for widget, letter in labelled:
        if letter and not _page_of(widget):
            taken.setdefault(letter, f"the window's {_label_text(widget).replace('&', '').strip()}")
    return [f"Alt+{letter.upper()} is {taken[letter]} and also: {describe(widget)}"
            for widget, letter in on_pages if letter in taken]


def clipped(root: QWidget, width: int, height: int) -> list[str]:
    """Controls cut off when the window is `width` x `height`: the window cannot shrink that far, or a
    visible control is narrower or lower than its minimum size, or lies past the window's edge outside
    any scroll area."""
    window = root.window()
    out = []
    if window.width() > width or window.height() > height:
        hint = window.minimumSizeHint()
        out.append(f"the window cannot shrink to {width}x{height}: it is {window.width()}x{window.height()} "
                   f"(minimum {hint.width()}x{hint.height()})")
    frame = QRect(0, 0, min(width, window.width()), min(height, window.height()))
    for widget in [*controls(root), *(w for w in root.findChildren(QLabel) if w.isVisible() and w.text())]:
        hint = widget.minimumSizeHint()
        if isinstance(widget, QLabel) and widget.wordWrap():   # a wrapped label needs its height at its width
            hint.setHeight(max(widget.heightForWidth(widget.width()), 0))
            hint.setWidth(0)
        if hint.isValid() and (widget.width() + 1 < hint.width() or widget.height() + 1 < hint.height()):
            out.append(f"smaller than its content ({widget.width()}x{widget.height()} < "
                       f"{hint.width()}x{hint.height()}): {describe(widget)}")
            continue
        if _scrolled(widget):
            continue
        place = QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())
        if not frame.contains(place):
            out.append(f"past the window's edge: {describe(widget)}")
    return out


def describe(widget: QWidget) -> str:
    """Which page, which kind of widget and what it says, for a problem line."""
    page = _page_of(widget) or "window"
    words = widget.accessibleName() or _label_text(widget) or getattr(widget, "placeholderText", lambda: "")() \
        or (widget.currentText() if isinstance(widget, QComboBox) else "") or widget.toolTip() or widget.objectName()
    if isinstance(widget, QAbstractItemView) and widget.model() is not None and not words:
        model = widget.model()
        words = ", ".join(str(model.headerData(c, Qt.Orientation.Horizontal) or "") for c in
                          range(min(3, model.columnCount())))
    return f"{page} {type(widget).__name__} '{' '.join(str(words).split())[:60]}'"


def _page_of(widget: QWidget) -> str:
    """The class name of the page `widget` lies on ('' for the window's own controls)."""
    return next((type(w).__name__ for w in _lineage(widget) if type(w).__name__.endswith("Page")), "")


def _buddies(root: QWidget) -> dict[int, str]:
    return {id(label.buddy()): label.text().replace("&", "").strip()
            for label in root.findChildren(QLabel) if label.buddy() is not None and label.text().strip()}


def _label_text(widget: QWidget) -> str:
    if isinstance(widget, (QAbstractButton, QLabel)):
        return widget.text()
    if isinstance(widget, QGroupBox):
        return widget.title()
    return ""


def _mnemonic(text: str) -> str:
    match = _MNEMONIC.search(text.replace("&&", ""))
    return match.group(1).lower() if match else ""


def _focus_chain(window: QWidget) -> list[QWidget]:
    """The widgets Tab can stop at, in the window's focus-chain order."""
    chain, widget = [], window.nextInFocusChain()
    while widget is not window and len(chain) < 5000:
        if widget.isVisible() and widget.isEnabled() and widget.focusPolicy() & Qt.FocusPolicy.TabFocus \
                and widget.focusProxy() is None:
            chain.append(widget)
        widget = widget.nextInFocusChain()
    return chain


def _after(chain: list[QWidget], widget: QWidget) -> QWidget | None:
    """The first widget after `widget` in the chain that is not inside it."""
    ids = [id(w) for w in chain]
    if id(widget) not in ids:
        return None
    at = ids.index(id(widget))
    return next((w for w in chain[at + 1:] + chain[:at] if not widget.isAncestorOf(w)), None)


def _lineage(widget: QWidget) -> list[QWidget]:
    out = []
    while widget is not None:
        out.append(widget)
        widget = widget.parentWidget()
    return out


def _in(widget: QWidget, root: QWidget) -> bool:
    return widget is root or root.isAncestorOf(widget)


def _scrolled(widget: QWidget) -> bool:
    return any(isinstance(w, QAbstractScrollArea) for w in _lineage(widget)[1:])
