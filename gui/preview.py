"""What the officer sees about a model before anything runs: format, size, manifest hash.

auditor.api.preview_model parses ONNX files with the onnx package and hashes every file, so it runs
in a short-lived child process: onnx never enters the GUI process, a hostile file that crashes a
parser cannot take the window down, and hashing a large model never blocks the UI thread.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import PurePath
from typing import Any

from PySide6.QtCore import QObject, QProcess, Signal

from auditor.messages import text

CHILD = ("import json, sys\nfrom auditor.api import preview_model\n"
         "sys.stdout.write(json.dumps(preview_model(sys.argv[1]), ensure_ascii=False))\n")


class ModelPreview(QObject):
    """One preview at a time; a newer request replaces an unfinished one."""

    done = Signal(str, object)     # path, {format, size_bytes, sha256, files, problem, parameters}

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


# The engine's refusal lines (auditor/models/safety.py, identity.py) are English for the CLI; the page says
# them in the UI language by kind and keeps the line itself as the detail. First match wins.
PROBLEM_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pickle", ("pickle", "weights and no safetensors")),
    ("remote_code", ("custom code", "outside its folder")),
    ("missing", ("no such file or folder",)),
    ("missing_config", ("no config.json", "has no model_type", "bare safetensors file")),
    ("incomplete", ("which is missing", "is missing from")),
    ("ambiguous", ("several onnx files",)),
    ("not_model", ("is not a model this tool accepts", "holds no model", "holds no onnx file")),
    ("unreadable", ("cannot be read", "could not be read (", "not a regular file", "symbolic link")),
    ("wrong_format", ("is not an onnx model", "truncated or corrupt", "not valid json", "no graph nodes",
                      "invalid offset", "no weight_map", "does not hold it", "no model.safetensors",
                      "needs bytes up to")),
)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".jit", ".joblib", ".h5", ".msgpack")


def problem_kind(line: str) -> str:
    """The kind of an engine refusal line: pickle, remote_code, missing, missing_config, incomplete,
    ambiguous, not_model, unreadable, wrong_format, or other."""
    low = line.lower()
    return next((kind for kind, marks in PROBLEM_KINDS if any(m in low for m in marks)), "other")


def problem_sentence(line: str, lang: str, files: list[dict[str, Any]] | None = None) -> str:
    """The refusal in `lang`: the catalogue sentence for its kind (pickle names the refused files)."""
    kind = problem_kind(line)
    if kind != "pickle":
        return text(f"gui.new.problem.{kind}", lang)
    names = [PurePath(str(f.get("path"))).name for f in files or []
             if PurePath(str(f.get("path"))).suffix.lower() in PICKLE_SUFFIXES]
    named = re.match(r"^(.*?) is a pickle file", line)
    if not names and named:
        names = [PurePath(named.group(1)).name]
    return text("gui.new.problem.pickle", lang, names=names or ["?"])


def problem_text(line: str, lang: str, files: list[dict[str, Any]] | None = None) -> str:
    """The sentence, then the engine's own line as the detail ("詳細: …")."""
    return problem_sentence(line, lang, files) + "\n" + text("gui.new.detail", lang, detail=line)
