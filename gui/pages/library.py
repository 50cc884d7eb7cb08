"""The audit library: every stored audit with its verdict, sign-off state and evidence state; search, filter,
open one. Keyboard: Tab moves through search, filter, buttons and the table and leaves it; Enter on a row
opens that audit; F5 refreshes, Ctrl+F searches. The list re-reads itself when the state says an audit
changed (a sign-off, an assignment, a finished run), so no page needs to reload it."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from auditor.messages import Message, render
from auditor.presentation import audit_status_label
from auditor.status import VERDICTS
from gui.source import Unreachable, unverified
from gui.state import AppState
from gui.strings import verdict_word
from gui.theme import colour
from gui.widgets import library_model as cells
from gui.widgets import verification
from gui.widgets.row_table import row_table
from gui.worker import in_background

COLUMNS = ("col.id", "col.model", "col.version", "col.date", "col.template", "col.status", "col.verdict",
           "gui.library.col.signoff", "col.evidence")
MODEL, STARTED, STATUS, VERDICT, SIGNOFF, EVIDENCE = (COLUMNS.index(c) for c in (
    "col.model", "col.date", "col.status", "col.verdict", "gui.library.col.signoff", "col.evidence"))
WIDEST = 240            # px: no column but the model's grows past this (the rest elide, full text in tooltips)
ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class LibraryPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.audits: list[dict[str, Any]] = []
        self.down: Message | None = None     # the service did not answer the last read (service mode)
        self.reading = False                 # a read of the service's list is out
        self._asked = 0     # the latest evidence check asked for; an older one's answer only fills the cache
        self._refresh_due = False
        self.search = QLineEdit(clearButtonEnabled=True)
        self.search.textChanged.connect(self.apply_filter)
        self.search_label = QLabel(buddy=self.search)
        self.verdict = QComboBox()
        self.verdict.currentIndexChanged.connect(self.apply_filter)
        self.verdict_label = QLabel(buddy=self.verdict)
        self.refresh_button = QPushButton(clicked=self.refresh)
        self.open_button = QPushButton(clicked=self.open_selected)
        self.table = self._make_table()
        self.empty = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.empty.setTextFormat(Qt.TextFormat.RichText)
        self.empty.setMargin(40)
        self.empty.setMaximumWidth(760)     # a readable line length, centred where the table would be
        self.empty_panel = QWidget()
        centred = QHBoxLayout(self.empty_panel)
        centred.addStretch(1)
        centred.addWidget(self.empty, 4)
        centred.addStretch(1)
        self.body = QStackedWidget()
        self.body.addWidget(self.table)
        self.body.addWidget(self.empty_panel)
        self.status = QLabel()
        top = QHBoxLayout()
        for widget, stretch in ((self.search_label, 0), (self.search, 1), (self.verdict_label, 0), (self.verdict, 0),
                                (self.refresh_button, 0), (self.open_button, 0)):
            top.addWidget(widget, stretch)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.status)
        for first, second in ((self.search, self.verdict), (self.verdict, self.refresh_button),
                              (self.refresh_button, self.open_button), (self.open_button, self.table)):
            QWidget.setTabOrder(first, second)
        self._shortcut(QKeySequence.StandardKey.Refresh, self.refresh)
        self._shortcut(QKeySequence.StandardKey.Find, self.search.setFocus)
        state.language_changed.connect(self.retranslate)
        state.db_changed.connect(lambda _db: self._switched())
        # one re-read per turn of the event loop, however many signals state.changed() sends
        state.audits_changed.connect(self.refresh_soon)
        state.audit_changed.connect(lambda _audit_id: self.refresh_soon())
        self.retranslate()
        self.refresh()

    def _make_table(self) -> QTableWidget:
        table = row_table(len(COLUMNS), stretch=MODEL, widest=WIDEST)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.setSortingEnabled(True)
        table.sortByColumn(STARTED, Qt.SortOrder.DescendingOrder)    # newest first, and the arrow says so
        self._arrows = cells.HeaderArrows()     # kept: a widget does not own the style set on it
        table.horizontalHeader().setStyle(self._arrows)
        table.doubleClicked.connect(lambda _i: self.open_selected())
        table.installEventFilter(self)
        return table

    def _shortcut(self, keys: QKeySequence.StandardKey, slot: Any) -> None:
        shortcut = QShortcut(QKeySequence(keys), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)   # only while the library has focus
        shortcut.activated.connect(slot)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        """Enter on a row opens that audit (a table's own Enter only activates on some platforms)."""
        if watched is self.table and event.type() == QEvent.Type.KeyPress and event.key() in ENTER_KEYS:
            self.open_selected()
            return True
        return super().eventFilter(watched, event)

    def retranslate(self) -> None:
        t = self.state.tr
        self.search.setPlaceholderText(t("lib.search"))
        self.search_label.setText(t("gui.library.search_label"))
        self.verdict_label.setText(t("gui.library.verdict_label"))
        current = self.verdict.currentData()
        self.verdict.blockSignals(True)
        self.verdict.clear()
        self.verdict.addItem(t("lib.all"), "")
        for v in VERDICTS:   # pass, warn, inconclusive, fail: the engine's one vocabulary
            self.verdict.addItem(verdict_word(v, self.state.lang), str(v))
        self.verdict.setCurrentIndex(max(0, self.verdict.findData(current or "")))
        self.verdict.blockSignals(False)
        self.refresh_button.setText(t("gui.library.refresh"))
        self.open_button.setText(t("gui.library.open"))
        self.table.setHorizontalHeaderLabels([t(c) for c in COLUMNS])
        for widget, name, description in (
                (self.search, "gui.library.search_name", "gui.library.search_description"),
                (self.verdict, "gui.library.verdict_name", "gui.library.verdict_description"),
                (self.refresh_button, "gui.library.refresh", "gui.library.refresh_description"),
                (self.open_button, "gui.library.open", "gui.library.open_description"),
                (self.table, "gui.library.table_name", "gui.library.table_description")):
            widget.setAccessibleName(_plain(t(name)))
            widget.setAccessibleDescription(t(description))
        self.apply_filter()

    def refresh_soon(self) -> None:
        if not self._refresh_due:
            self._refresh_due = True
            QTimer.singleShot(0, self, self.refresh)

    def _switched(self) -> None:
        """Another database or service: the previous one's rows never stand under the new one's name."""
        self.audits, self.down = [], None
        self.refresh()

    def refresh(self) -> None:
        """Re-reads the list: a local database here (fast), a service on a pool thread (the window never
        waits on the network); a service that does not answer leaves the list as it was, with the sentence."""
        self._refresh_due = False
        source = self.state.source
        if source.local:
            self.audits, self.down, self.reading = source.list_audits(), None, False
            self.check_evidence()
            self.apply_filter()
            return

        self.reading = True

        def done(audits: list[dict[str, Any]] | Any) -> None:
            if source is not self.state.source:
                return                  # another source was chosen meanwhile: its own read fills the list
            self.reading = False
            if isinstance(audits, Unreachable):
                self.down = audits.sentence
            else:
                self.audits, self.down = audits, None
            self.apply_filter()
        in_background(lambda: _read_list(source), done, lambda _m: done(Unreachable(source.url)), owner=self)

    def check_evidence(self) -> None:
        """Each audit's signed-record state (api.verify_audit), checked on a pool thread where not cached."""
        db = self.state.db
        if not self.state.source.local:      # the service's record is verified on the server
            return
        todo = [a["audit_id"] for a in self.audits if verification.cached(db, a["audit_id"]) is None]
        if not todo:
            return
        self._asked += 1
        asked = self._asked

        def done() -> None:
            if asked == self._asked and db == self.state.db:
                self.apply_filter()
        verification.check_later(db, todo, done, self)

    def evidence_of(self, audit_id: str) -> verification.Evidence:
        if not self.state.source.local:
            return unverified(self.state.lang)
        return verification.cached(self.state.db, audit_id) or verification.PENDING

    def signoff_of(self, audit: dict[str, Any]) -> cells.SignoffState:
        return cells.signoff_state(audit.get("signoffs"))

    def matches(self, audit: dict[str, Any], needle: str, wanted: str) -> bool:
        if wanted and audit.get("verdict") != wanted:
            return False
        if not needle:
            return True
        words = [str(audit.get(k) or "") for k in ("audit_id", "name", "version", "template", "status")]
        words += [self.signoff_of(audit).word(self.state.lang)] + [str(s.get("name") or "")
                                                                  for s in audit.get("signoffs") or ()]
        return needle in " ".join(words).lower()

    def apply_filter(self) -> None:
        needle = self.search.text().strip().lower()
        rows = [a for a in self.audits if self.matches(a, needle, self.verdict.currentData() or "")]
        keep = self.current_id()
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, audit in enumerate(rows):
            self._fill_row(r, audit)
        self.table.setSortingEnabled(True)
        self._reselect(keep)
        self._show_state(len(rows))

    def _fill_row(self, r: int, audit: dict[str, Any]) -> None:
        lang, audit_id = self.state.lang, audit["audit_id"]
        values = (audit_id, audit.get("name"), audit.get("version"),
                  (audit.get("started_at") or "").replace("T", " ")[:19], audit.get("template"),
                  audit_status_label(audit.get("status"), lang), verdict_word(audit.get("verdict"), lang))
        for c, value in enumerate(values):
            item = cells.text_item(value, audit_id)
            if c == VERDICT:
                item.setForeground(cells.readable(colour(audit.get("verdict"))))
            elif c == STATUS and (run := cells.run_colour(audit.get("status"))) is not None:
                item.setForeground(run)
            self.table.setItem(r, c, item)
        self.table.setItem(r, SIGNOFF, cells.signoff_item(self.signoff_of(audit), lang, audit_id,
                                                          self.state.tr("gui.library.col.signoff")))
        self.table.setItem(r, EVIDENCE, verification.table_item(self.evidence_of(audit_id), lang, audit_id))

    def _show_state(self, shown: int) -> None:
        """The table, or a sentence in its place: an empty list never looks like a result."""
        t = self.state.tr
        path = self.state.source.where()
        self.open_button.setEnabled(shown > 0)
        if self.down is not None and not self.audits:
            self._say_empty(t("gui_service.down.title"), render(self.down, self.state.lang))
            self.status.setText(render(self.down, self.state.lang))
        elif not self.audits and self.reading:        # never "no audits" before the service has answered
            self._say_empty(t("gui_service.library.reading_title"), t("gui_service.library.reading", url=path))
            self.status.setText(t("gui_service.library.reading", url=path))
        elif not self.audits and not self.state.source.local:
            self._say_empty(t("gui.library.empty_title"), t("gui_service.library.empty", url=path))
            self.status.setText(t("lib.empty"))
        elif not self.audits:
            self._say_empty(t("gui.library.empty_title"), t("gui.library.empty_body", path=path))
            self.status.setText(t("lib.empty"))
        elif not shown:
            self._say_empty(t("gui.library.no_match_title"), t("gui.library.no_match_body", total=len(self.audits)))
            self.status.setText(t("lib.count", shown=0, total=len(self.audits)) + "   ·   " + path)
        else:
            self.body.setCurrentWidget(self.table)
            self.status.setText(t("lib.count", shown=shown, total=len(self.audits)) + "   ·   " + path)
        if self.down is not None:        # rows read before the service stopped answering: said under them
            self.status.setText(render(self.down, self.state.lang))
        self.status.setAccessibleName(self.status.text())

    def _say_empty(self, title: str, body: str) -> None:
        from html import escape

        self.empty.setText(f"<p style='font-size:14pt'><b>{escape(title)}</b></p><p>{escape(body)}</p>")
        self.empty.setAccessibleName(title)
        self.empty.setAccessibleDescription(body)
        self.body.setCurrentWidget(self.empty_panel)

    def current_id(self) -> str:
        """The audit of the current row (where the keyboard is), else of the selected row, else ''."""
        row = self.table.currentRow()
        if row < 0:
            rows = self.table.selectionModel().selectedRows()
            row = rows[0].row() if rows else -1
        item = self.table.item(row, 0) if row >= 0 else None
        return item.data(cells.AUDIT_ID_ROLE) if item is not None else ""

    def selected_id(self) -> str:
        return self.current_id()

    def _reselect(self, audit_id: str) -> None:
        """After a re-read the row the user was on stays current (a refresh never throws the keyboard to the top)."""
        if not audit_id:
            return
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and item.data(cells.AUDIT_ID_ROLE) == audit_id:
                self.table.setCurrentCell(r, self.table.currentColumn() if self.table.currentColumn() >= 0 else 0)
                self.table.selectRow(r)
                return

    def open_selected(self) -> None:
        audit_id = self.current_id() or (self.table.item(0, 0).data(cells.AUDIT_ID_ROLE)
                                         if self.table.rowCount() else "")
        if audit_id:
            self.state.open_audit(audit_id)


def _read_list(source: Any) -> Any:
    """The service's audit list, or the Unreachable it raised (a value: the UI thread decides what to say)."""
    try:
        return source.list_audits()
    except Unreachable as down:
        return down


def _plain(label: str) -> str:
    """A button's text as a screen reader's name: without the mnemonic marker '&' or '(&X)'."""
    import re

    return re.sub(r"\(&\w\)", "", label).replace("&", "").rstrip(":：").strip()
