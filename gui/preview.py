"""What the officer sees about a model before anything runs: format, size, manifest hash.

auditor.api.preview_model parses ONNX files with the onnx package and hashes every file, so it runs
in a short-lived child process: onnx never enters the GUI process, a hostile file that crashes a
parser cannot take the window down, and hashing a large model never blocks the UI thread.
"""
from __future__ import annotations

import json
import sys
from typing import Any

from PySide6.QtCore import QObject, QProcess, Signal

CHILD = ("import json, sys\nfrom auditor.api import preview_model\n"
         "sys.stdout.write(json.dumps(preview_model(sys.argv[1]), ensure_ascii=False))\n")


class ModelPreview(QObject):
    """One preview at a time; a newer request replaces an unfinished one."""

    done = Signal(str, object)     # path, {format, size_bytes, sha256, files, problem}

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None

    def start(self, path: str) -> None:
        self.stop()
        proc = QProcess(self)
        proc.finished.connect(lambda code, status: self._finished(proc, path, code, status))
        proc.errorOccurred.connect(lambda error: error == QProcess.ProcessError.FailedToStart
                                   and self._report(proc, path, {"problem": proc.errorString()}))
        self.process = proc
        proc.start(sys.executable, ["-c", CHILD, path])

    def stop(self) -> None:
        if self.process is not None:
            old, self.process = self.process, None
            old.kill()
            old.waitForFinished(1000)
            old.deleteLater()

    def _finished(self, proc: QProcess, path: str, code: int, status: QProcess.ExitStatus) -> None:
        out = bytes(proc.readAllStandardOutput().data()).decode("utf-8", "replace")
        try:
            info: dict[str, Any] = json.loads(out) if code == 0 and out else {}
        except ValueError:
            info = {}
        if not info:
            err = bytes(proc.readAllStandardError().data()).decode("utf-8", "replace").strip().splitlines()
            reason = "crashed" if status == QProcess.ExitStatus.CrashExit else f"exit code {code}"
            info = {"problem": f"the model could not be read ({reason}): {err[-1] if err else ''}".rstrip(": ")}
        self._report(proc, path, info)

    def _report(self, proc: QProcess, path: str, info: dict[str, Any]) -> None:
        if proc is self.process:
            self.process = None
            proc.deleteLater()
            self.done.emit(path, info)


def human_size(n: int | float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
