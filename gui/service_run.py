"""The New audit page's run in either mode: a local worker process (gui.worker.AuditWorker) or a job
submitted to the audit service (POST /v1/audits) whose progress stream (SSE) feeds the same signals, so
the page and its progress panel do not know which one ran.

The service's stream is read on a daemon thread (it blocks for minutes between events); its events reach
the UI thread through queued Qt signals. A stream lost mid-run is reopened after the last event received.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from shiboken6 import isValid

from gui.state import AppState
from gui.widgets.wrapping_label import WrappingLabel
from gui.worker import AuditJob, AuditWorker, WorkerError, progress_text

RECONNECTS = 5           # a lost stream is reopened this many times (a second apart) before the run is failed


def request_of(job: AuditJob) -> dict[str, Any]:
    """The POST /v1/audits body of the page's job (the model and probe paths are on the server)."""
    meta = {k: v for k, v in job.meta.items() if v and k != "preparer"}  # the service records the submitter
    return {"model": job.model, "probes": job.probes, "template": job.template, "limit": job.limit,
            "device": job.device, "dtype": job.dtype, "name": job.name or None, "model_version": job.version or None, "meta": meta}


class ServiceAuditWorker(QObject):
    """One audit at a time on the service, with AuditWorker's signals."""

    progress = Signal(float, str)
    event = Signal(object)
    finished = Signal(str)
    failed = Signal(object)
    cancelled = Signal()
    submitted = Signal(str)           # the job ID

    def __init__(self, parent: QObject, state: AppState) -> None:
        super().__init__(parent)
        self.state = state
        self.job_id, self._audit_id, self._running = "", "", False

    def running(self) -> bool:
        return self._running

    def audit_id(self) -> str:
        return self._audit_id

    def start(self, job: AuditJob) -> None:
        if self._running:
            raise RuntimeError("an audit is already running")
        self.job_id, self._audit_id, self._running = "", "", True
        source, lang = self.state.source, self.state.lang
        threading.Thread(target=self._follow, args=(source, request_of(job), lambda: lang), daemon=True).start()

    def cancel(self) -> None:
        source, job_id = self.state.source, self.job_id
        if job_id and self._running:
            threading.Thread(target=lambda: _quietly(lambda: source.cancel(job_id)), daemon=True).start()

    def _tell(self, signal: str, *args: Any) -> None:
        if isValid(self):              # the page was closed while the stream ran: nobody listens
            getattr(self, signal).emit(*args)

    def _follow(self, source: Any, request: dict[str, Any], lang: Callable[[], str]) -> None:
        try:
            job = source.submit(request)
        except Exception as exc:  # a refused request (a path the server lacks): the service's one line
            self._end("failed", WorkerError("bad_input", str(exc), 2))
            return
        self.job_id = job["id"]
        self._tell("submitted", self.job_id)
        after, tries = 0, 0
        while True:
            try:
                for ev in source.events(self.job_id, after):
                    tries = 0
                    after = int(ev.id) if ev.id and ev.id.isdigit() else after
                    if ev.name == "progress":
                        self._tell("event", ev.data)
                        self._tell("progress", float(ev.data.get("fraction") or 0.0), progress_text(ev.data, lang()))
                    elif ev.name == "finished":
                        self._audit_id = str(ev.data.get("audit_id") or "")
                    elif ev.name == "end":
                        self._ended_as(ev.data)
                        return
            except Exception as exc:  # the stream broke (server restarted, network): reopen it a few times
                tries += 1
                if tries > RECONNECTS:
                    self._end("failed", WorkerError("failed", str(exc), 3))
                    return
                time.sleep(1.0)

    def _ended_as(self, job: dict[str, Any]) -> None:
        self._audit_id = str(job.get("audit_id") or self._audit_id)
        status = job.get("status")
        if status == "completed":
            self._end("finished", self._audit_id)
        elif status == "cancelled":
            self._end("cancelled")
        else:
            self._end("failed", WorkerError("failed", str(job.get("error") or status), job.get("exit_code")))

    def _end(self, signal: str, *args: Any) -> None:
        self._running = False          # before the signal: its handlers see the run over
        self._tell(signal, *args)


class RunWorker(QObject):
    """The page's worker: the local process on a local database, the service's queue when connected."""

    progress = Signal(float, str)
    event = Signal(object)
    finished = Signal(str)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, parent: QObject, state: AppState) -> None:
        super().__init__(parent)
        self.state = state
        self.local = AuditWorker(self, lang=lambda: state.lang)
        self.remote = ServiceAuditWorker(self, state)
        self.current: AuditWorker | ServiceAuditWorker = self.local
        for worker in (self.local, self.remote):
            for name in ("progress", "event", "finished", "failed", "cancelled"):
                getattr(worker, name).connect(getattr(self, name))   # queued from the stream's thread

    # the names scripts, tests and the window use on the local worker
    python = property(lambda self: self.local.python, lambda self, v: setattr(self.local, "python", v))
    process = property(lambda self: self.local.process)

    def running(self) -> bool:
        return self.local.running() or self.remote.running()

    def audit_id(self) -> str:
        return self.current.audit_id()

    def start(self, job: AuditJob) -> None:
        self.current = self.local if self.state.source.local else self.remote
        self.current.start(job)

    def cancel(self) -> None:
        self.current.cancel()


def server_note(page: Any) -> WrappingLabel:
    """The sentence under the model path in service mode (the path is on the server's disk), where the
    folder and file pickers, which browse this computer, are hidden."""
    note = WrappingLabel(visible=False)
    # the last row of the model box: in service mode the preview rows above it stay empty (and hidden), so it
    # sits under the path; model_box.retranslate addresses its own rows by index, which this keeps
    page.model_box.form.addRow("", note)

    def say(*_args: Any) -> None:
        source = page.state.source
        note.setText("" if source.local else page.state.tr("gui_service.new.server_path", url=source.url))
        note.setAccessibleName(note.text())
        page.model_box.form.setRowVisible(note, not source.local)
        for picker in (page.pick_folder, page.pick_file):     # they browse this computer, not the server
            picker.setVisible(source.local)
    for signal in (page.state.db_changed, page.state.language_changed):
        signal.connect(say)
    say()
    return note


def default_template(source: Any) -> str:
    """The template chosen first: the server's default in service mode, else the CLI's (`standard`)."""
    from auditor import api

    return getattr(source, "default_template", "") or api.default_template()


def reread_templates(page: Any, read_local: Callable[[], list[Any]], cached: list[Any] | None) -> None:
    """New audit's template list for the window's source: a service's own, as it describes them (GET
    /v1/templates), or the built-in ones (`cached` when read before); on a pool thread, then estimated again."""
    from gui.worker import in_background

    source = page.state.source
    page._templates_read, page._templates, page.estimate = False, [], None
    page.template.blockSignals(True)
    page.template.clear()
    page.template.blockSignals(False)
    if source.local and cached is not None:     # read before (another window): no pool thread needed
        page._templates_arrived(cached)
        return
    page._describe_template()
    read = read_local if source.local else source.list_templates

    def arrived(templates: list[Any]) -> None:
        if source is page.state.source:     # a newer switch reads its own
            page._templates_arrived(templates)
    in_background(read, arrived, lambda _m: arrived([]), owner=page)


def service_estimate(page: Any) -> bool:
    """In service mode, the estimate's one plain sentence (the server's machine and queue are not known here:
    no estimate is offered until the audit starts); False on a local database."""
    source = page.state.source
    if source.local:
        return False
    page.estimate, page._estimate_error = None, ""
    page.estimate_label.setText(page.state.tr("gui_service.new.no_estimate"))
    page.estimate_label.setToolTip("")
    page.estimate_label.setAccessibleDescription(page.estimate_label.text())
    return True


def _quietly(call: Callable[[], Any]) -> None:
    """A cancel request whose answer nobody waits for (the stream's `end` says how the job ended)."""
    try:
        call()
    except Exception:  # noqa: S110 (the job then simply runs on; the queue page shows it)
        pass
