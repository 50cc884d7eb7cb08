"""Audits run in a worker process (the `auditor` CLI); background threads for short blocking work.

The worker speaks JSON lines on stderr ({"event": "progress", ...}, {"event": "finished", ...}) and
one `auditor: ...` line on failure with exit code 2 (bad input) or 3 (failed or cancelled). A progress line's
step is shown in the GUI's language, rendered from its catalogue key and params (auditor.messages). A crash
of the worker (out of memory killer, native fault) ends only that process; the window keeps running.
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from PySide6.QtCore import (
    QObject,
    QProcess,
    QProcessEnvironment,
    QRunnable,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)
from shiboken6 import isValid

from auditor.messages import Message, render

META_KEYS = ("purpose", "users", "out_of_scope", "preparer", "decision_requested")
# the CLI's last line names the audit it recorded as cancelled or failed (auditor.audit_run.run_audit)
AUDIT_IN_LINE = re.compile(r"\baudit (\S+) (?:was cancelled|failed|ran out of memory)")


@dataclass
class AuditJob:
    model: str
    probes: str = "builtin:text"
    template: str | None = None
    db: str | None = None
    limit: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    name: str = ""
    version: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def arguments(self, meta_file: Path | None) -> list[str]:
        args = ["-m", "auditor.cli", "audit", self.model, "--probes", self.probes, "--progress", "jsonl", "--json",
                "--device", self.device, "--dtype", self.dtype]
        for flag, value in (("--template", self.template), ("--db", self.db), ("--name", self.name),
                            ("--model-version", self.version), ("--meta", str(meta_file) if meta_file else None)):
            if value:
                args += [flag, value]
        if self.limit:
            args += ["--limit", str(self.limit)]
        return args


@dataclass
class WorkerError:
    """What went wrong, sorted into the kinds the user sees: pickle, bad_input, oom, failed, crash, start."""

    kind: str
    message: str
    exit_code: int | None = None


def classify(exit_code: int | None, crashed: bool, message: str) -> WorkerError:
    low = message.lower()
    if crashed or exit_code is None or exit_code < 0 or exit_code > 3 or exit_code == 1 and not message:
        if "memory" in low:
            return WorkerError("oom", message, exit_code)
        return WorkerError("crash", message or f"exit code {exit_code}", exit_code)
    if "pickle" in low:
        return WorkerError("pickle", message, exit_code)
    if "out of memory" in low or "memoryerror" in low:
        return WorkerError("oom", message, exit_code)
    if exit_code == 2:
        return WorkerError("bad_input", message, exit_code)
    return WorkerError("failed", message, exit_code)


def progress_text(event: dict[str, Any], lang: str) -> str:
    """A jsonl progress event's step in `lang`, rendered from its catalogue key and params; the English
    `message` only where the event has no key or one this version's catalogue does not hold."""
    english = str(event.get("message") or "")
    try:
        said = Message.from_json(event)
    except ValueError:   # a line without a key (a step the engine words itself)
        return english
    return render(said, lang, default=english)


class AuditWorker(QObject):
    """Runs one audit at a time in a QProcess and turns its output into signals."""

    progress = Signal(float, str)     # fraction, the engine's step in the GUI's language
    event = Signal(object)            # the jsonl progress event itself (gui.estimate maps it to a phase)
    finished = Signal(str)            # audit ID
    failed = Signal(object)           # WorkerError
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None, python: str | None = None,
                 lang: Callable[[], str] = lambda: "en") -> None:
        super().__init__(parent)
        self.python = python or sys.executable
        self.lang = lang                  # asked per line, so a language switch mid-audit applies at once
        self.process: QProcess | None = None
        self._buffer = b""
        self._error_line = ""
        self._audit_id = ""
        self._cancelling = False
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def audit_id(self) -> str:
        """The audit the last run made, also when it was cancelled or failed ("" before its row existed)."""
        said = AUDIT_IN_LINE.search(self._error_line)
        return self._audit_id or (said.group(1) if said else "")

    def start(self, job: AuditJob) -> None:
        if self.running():
            raise RuntimeError("an audit is already running")
        self._buffer, self._error_line, self._audit_id, self._cancelling = b"", "", "", False
        self._tmp = tempfile.TemporaryDirectory(prefix="auditor-gui-")
        meta = {k: v for k, v in job.meta.items() if k in META_KEYS and v}
        meta_file = None
        if meta:
            meta_file = Path(self._tmp.name) / "meta.yaml"
            meta_file.write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")   # the offline variables: set by `auditor` itself (auditor/offline.py)
        proc.setProcessEnvironment(env)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        self.process = proc
        proc.start(self.python, job.arguments(meta_file))

    def cancel(self) -> None:
        """SIGTERM (the CLI records the audit as cancelled); a hard kill if it has not ended in 5 s."""
        if not self.running():
            return
        self._cancelling = True
        assert self.process is not None
        self.process.terminate()
        # a timer owned by the process dies with it, so it never touches a deleted QProcess
        hard_stop = QTimer(self.process)
        hard_stop.setSingleShot(True)
        hard_stop.timeout.connect(self._kill_if_running)
        self.process.finished.connect(hard_stop.stop)
        hard_stop.start(5000)

    @Slot()
    def _kill_if_running(self) -> None:
        proc = self.process
        if proc is not None and proc.state() != QProcess.ProcessState.NotRunning:
            proc.kill()

    @Slot()
    def _read_stderr(self) -> None:
        assert self.process is not None
        self._buffer += bytes(self.process.readAllStandardError().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace").strip())

    def _line(self, line: str) -> None:
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                return
            if event.get("event") == "progress":
                self.event.emit(event)
                self.progress.emit(float(event.get("fraction") or 0.0), progress_text(event, self.lang()))
            elif event.get("event") == "finished":
                self._audit_id = str(event.get("audit_id") or "")
        elif line.startswith("auditor:"):
            self._error_line = line.removeprefix("auditor:").strip()
        elif "MemoryError" in line or "out of memory" in line.lower():
            self._error_line = self._error_line or line

    @Slot(int, QProcess.ExitStatus)
    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_stderr()
        if self._buffer:
            self._line(self._buffer.decode("utf-8", "replace").strip())
            self._buffer = b""
        crashed = status == QProcess.ExitStatus.CrashExit
        self._cleanup()
        if code in (0, 1) and not crashed and self._audit_id:   # 1: --fail-on matched, still completed
            self.finished.emit(self._audit_id)                  # (also when cancel came too late)
        elif self._cancelling:
            self.cancelled.emit()
        else:
            self.failed.emit(classify(None if crashed else code, crashed, self._error_line))

    @Slot(QProcess.ProcessError)
    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            message = self.process.errorString() if self.process else ""
            self._cleanup()
            self.failed.emit(WorkerError("start", message))

    def _cleanup(self) -> None:
        if self.process is not None:
            self.process.deleteLater()
            self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class _Signals(QObject):
    done = Signal(object)
    error = Signal(str)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self.fn, self.signals = fn, signals

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # shown to the user as a dialog, never a crash of the window
            self._tell("error", f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
        else:
            self._tell("done", result)

    def _tell(self, which: str, value: Any) -> None:
        """Emits `which`, unless its signals' object was deleted while `fn` ran (the window closed, the app
        quit): nobody waits for the answer then, and emitting would print 'Signal source has been deleted'."""
        try:
            if isValid(self.signals):
                getattr(self.signals, which).emit(value)
                return
        except RuntimeError:   # deleted between the check and the emit (on the UI thread)
            pass
        _keep.discard(self.signals)


_keep: set[_Signals] = set()


def in_background(fn: Callable[[], Any], done: Callable[[Any], None],
                  error: Callable[[str], None] | None = None, owner: QObject | None = None) -> _Signals:
    """Runs `fn` on a pool thread; `done(result)` or `error(message)` is called on the UI thread, unless
    `owner` (the widget that asked) was deleted meanwhile: a closed window's page is never called."""
    signals = _Signals()
    _keep.add(signals)
    if owner is not None:
        done, error = _while_alive(owner, done), (_while_alive(owner, error) if error is not None else None)
    signals.done.connect(done)
    if error is not None:
        signals.error.connect(error)
    signals.done.connect(lambda _r: _keep.discard(signals))
    signals.error.connect(lambda _m: _keep.discard(signals))
    QThreadPool.globalInstance().start(_Task(fn, signals))
    return signals


def _while_alive(owner: QObject, call: Callable[[Any], None]) -> Callable[[Any], None]:
    def guarded(value: Any) -> None:
        if isValid(owner):
            call(value)
    return guarded
