"""The service's queue (service mode): every job with its status, model, submitter, progress and current step,
refreshed once a second while the page is shown; Cancel a queued or running job, Open a completed one.

Nothing here waits on the network on the UI thread: the list is read on a pool thread (one read at a time,
at most one a second) and each running job's progress stream is followed on its own daemon thread
(gui/widgets/job_progress.py), whose latest event the next refresh shows. On a local database the page
says where the queue lives instead. Keyboard: Tab through Refresh, Cancel, Open and the table; Enter on a
row opens a completed job's audit; F5 refreshes.
"""
from __future__ import annotations

import re
import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from auditor.messages import Message, render, verbatim
from gui.state import AppState
from gui.widgets.job_progress import JobProgress
from gui.widgets.row_table import row_table
from gui.widgets.wrapping_label import WrappingLabel
from gui.worker import in_background, progress_text

COLUMNS = ("job", "status", "model", "by", "submitted", "progress", "phase")
JOB_ROLE = Qt.ItemDataRole.UserRole
REFRESH_MS = 1000          # at most one read of the queue a second
ACTIVE = ("queued", "running")
COLOURS = {"running": "#1565c0", "completed": "#2e7d32", "failed": "#c62828", "cancelled": "#6b5d3f",
           "interrupted": "#6a1b9a", "queued": "#424242"}


class QueuePage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.jobs: list[dict[str, Any]] = []
        self.progress = JobProgress()
        self.error = ""
        self._reading = False
        self._read_at = ""
        self.heading = QLabel(wordWrap=True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_button = QPushButton(clicked=self.refresh)
        self.cancel_button = QPushButton(clicked=self.cancel_selected, enabled=False)
        self.open_button = QPushButton(clicked=self.open_selected, enabled=False)
        self.table = self._make_table()
        self.empty = WrappingLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body = QStackedWidget()
        self.body.addWidget(self.table)
        self.body.addWidget(self.empty)
        self.status = WrappingLabel()
        self.message = WrappingLabel()
        buttons = QHBoxLayout()
        for button in (self.refresh_button, self.cancel_button, self.open_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(buttons)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.status)
        for first, second in ((self.refresh_button, self.cancel_button), (self.cancel_button, self.open_button),
                              (self.open_button, self.table)):
            QWidget.setTabOrder(first, second)
        shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self.refresh)
        self.timer = QTimer(self, interval=REFRESH_MS, timeout=lambda: self.isVisible() and self.refresh())
        state.language_changed.connect(lambda _l: self.retranslate())
        state.db_changed.connect(lambda _d: self._source_changed())
        self.retranslate()
        self._source_changed()

    def _make_table(self) -> QTableWidget:
        table = row_table(len(COLUMNS), stretch=COLUMNS.index("phase"), widest=260)
        table.itemSelectionChanged.connect(self._update_buttons)
        table.doubleClicked.connect(lambda _i: self.open_selected())
        table.installEventFilter(self)
        return table

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if watched is self.table and event.type() == QEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_selected()
            return True
        return super().eventFilter(watched, event)

    def retranslate(self) -> None:
        t = self.state.tr
        self.table.setHorizontalHeaderLabels([t(f"gui_service.queue.col.{c}") for c in COLUMNS])
        for button, key in ((self.refresh_button, "refresh"), (self.cancel_button, "cancel"),
                            (self.open_button, "open")):
            button.setText(t(f"gui_service.queue.{key}"))
            button.setAccessibleName(_plain(button.text()))
            button.setAccessibleDescription(t(f"gui_service.queue.{key}_description"))
        self.table.setAccessibleName(t("gui_service.queue.table_name"))
        self.table.setAccessibleDescription(t("gui_service.queue.table_description"))
        self._show()

    # ---- reading
    def _source_changed(self) -> None:
        self.progress.stop()
        self.jobs, self.error = [], ""
        self.message.setText("")
        if self.state.source.local:
            self.timer.stop()
        else:
            self.refresh()
            self.timer.start()
        self._show()

    def refresh(self) -> None:
        """One read of the queue on a pool thread (skipped while the last one is still out)."""
        source = self.state.source
        if source.local or self._reading:
            return
        self._reading = True

        def read() -> list[dict[str, Any]]:
            return source.jobs()

        def done(jobs: list[dict[str, Any]]) -> None:
            self._reading = False
            if source is not self.state.source:
                return
            before = {j["id"]: j["status"] for j in self.jobs}
            self.jobs, self.error, self._read_at = jobs, "", time.strftime("%H:%M:%S")
            # a job that ended since the last read changed an audit: the library and open pages re-read it
            for job in jobs:
                if job["id"] in before and before[job["id"]] != job["status"] and job["status"] not in ACTIVE:
                    self.state.changed(str(job.get("audit_id") or ""))
            for job in jobs:
                if job["status"] == "running":
                    self.progress.follow(source, job["id"])
            self._show()

        def failed(message: str) -> None:
            self._reading = False
            if source is self.state.source:
                self.error = message
                self._show()
        in_background(read, done, failed, owner=self)

    # ---- showing
    def _show(self) -> None:
        t, source = self.state.tr, self.state.source
        if source.local:
            self.heading.setText("")
            self._say_empty(t("gui_service.queue.local"))
            self.status.setText("")
            self._update_buttons()
            return
        self.heading.setText(f"<b>{t('gui_service.queue.heading', url=source.url)}</b>")
        self.heading.setAccessibleName(t("gui_service.queue.heading", url=source.url))
        if self.error:
            self.status.setText(render(Message("gui_service.queue.lost", {"detail": verbatim(self.error)}),
                                       self.state.lang))
        else:
            active = sum(1 for j in self.jobs if j["status"] in ACTIVE)
            self.status.setText(t("gui_service.queue.count", n=len(self.jobs), active=active, time=self._read_at))
        self.status.setAccessibleName(self.status.text())
        if not self.jobs:
            self._say_empty(t("gui_service.queue.empty"))
            self._update_buttons()
            return
        keep = self.selected_job()
        self.table.setRowCount(len(self.jobs))
        for row, job in enumerate(self.jobs):
            for col, value in enumerate(self._cells(job)):
                item = QTableWidgetItem(value)
                item.setData(JOB_ROLE, job["id"])
                item.setToolTip(value)
                if COLUMNS[col] == "status":
                    item.setForeground(Qt.GlobalColor.black if job["status"] not in COLOURS
                                       else _colour(COLOURS[job["status"]]))
                self.table.setItem(row, col, item)
            if job["id"] == keep.get("id"):
                self.table.selectRow(row)
        self.body.setCurrentWidget(self.table)
        self._update_buttons()

    def _cells(self, job: dict[str, Any]) -> tuple[str, ...]:
        lang, status = self.state.lang, job["status"]
        request = job.get("request") or {}
        model = request.get("name") or request.get("model") or ""
        fraction, phase = self.fraction_and_phase(job)
        return (job["id"], self.state.tr(f"gui_service.job.{status}"), str(model), str(job.get("submitted_by") or ""),
                str(job.get("submitted_at") or "").replace("T", " ")[:19],
                render(Message("gui_service.queue.progress_name", {"percent": fraction}), lang)
                if fraction is not None else "", phase)

    def fraction_and_phase(self, job: dict[str, Any]) -> tuple[float | None, str]:
        """The job's progress fraction and step in the UI language (None: not measured)."""
        status = job["status"]
        if status == "queued":
            return 0.0, self.state.tr("gui_service.queue.waiting")
        if status == "completed":
            return 1.0, self.state.tr("gui_service.queue.recorded", audit_id=job.get("audit_id") or "?")
        if status == "running":
            event = self.progress.latest(job["id"])
            if event is None:
                return 0.0, ""
            return float(event.get("fraction") or 0.0), progress_text(event, self.state.lang)
        return None, str(job.get("error") or "")

    def _say_empty(self, text: str) -> None:
        self.empty.setText(text)
        self.empty.setAccessibleName(text)
        self.table.setRowCount(0)
        self.body.setCurrentWidget(self.empty)

    def selected_job(self) -> dict[str, Any]:
        row = self.table.currentRow()
        rows = self.table.selectionModel().selectedRows()
        row = rows[0].row() if rows else row
        item = self.table.item(row, 0) if row >= 0 else None
        job_id = item.data(JOB_ROLE) if item is not None else ""
        return next((j for j in self.jobs if j["id"] == job_id), {})

    def _update_buttons(self) -> None:
        job = self.selected_job() if not self.state.source.local else {}
        self.cancel_button.setEnabled(job.get("status") in ACTIVE)
        self.open_button.setEnabled(job.get("status") == "completed" and bool(job.get("audit_id")))

    # ---- acting
    def select(self, job_id: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(JOB_ROLE) == job_id:
                self.table.setCurrentCell(row, 0)
                self.table.selectRow(row)
                return

    def cancel_selected(self) -> None:
        job, source = self.selected_job(), self.state.source
        if job.get("status") not in ACTIVE or source.local:
            return
        self.cancel_button.setEnabled(False)

        def done(_answer: Any) -> None:
            self.message.setText(self.state.tr("gui_service.queue.cancel_asked", job=job["id"]))
            self.message.setAccessibleName(self.message.text())
            self.refresh()
            self.state.changed(job.get("audit_id") or "")

        def refused(detail: str) -> None:
            self.message.setText(render(Message("gui_service.queue.refused", {"detail": verbatim(detail)}),
                                        self.state.lang))
            self.message.setAccessibleName(self.message.text())
            self._update_buttons()
        in_background(lambda: source.cancel(job["id"]), done, refused, owner=self)

    def open_selected(self) -> None:
        job = self.selected_job()
        if job.get("status") == "completed" and job.get("audit_id"):
            self.state.open_audit(str(job["audit_id"]))

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.refresh()


def _colour(name: str) -> Any:
    from PySide6.QtGui import QColor

    return QColor(name)


def _plain(label: str) -> str:
    """A button's text as a screen reader's name: without the mnemonic marker '&' or '(&X)'."""
    return re.sub(r"\(&\w\)", "", label).replace("&", "").strip()
