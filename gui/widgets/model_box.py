"""The New audit page's model box: a path with folder and file pickers, and what the preview found.

The preview (gui/preview.py, a child process) gives format, size, manifest hash, file count and any
problem; a problem is said in the UI language by kind, with the engine's own line as "Details: …".
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton

from auditor import api
from gui.preview import ModelPreview, human_size, problem_sentence, problem_text
from gui.state import AppState

INFO = ("format", "size", "sha", "files", "problem")


class ModelBox(QGroupBox):
    changed = Signal()           # the path was edited or its preview arrived
    named = Signal(str)          # the name the worker records when the name field is left empty

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.model_info: dict[str, Any] | None = None
        self.preview_for = ""
        self.previewer = ModelPreview(self)
        self.previewer.done.connect(self._previewed)
        self.path = QLineEdit()
        self.path.editingFinished.connect(lambda: self.set_model(self.path.text()))
        self.path.textChanged.connect(self._edited)
        self.pick_folder = QPushButton(clicked=self._choose_folder)
        self.pick_file = QPushButton(clicked=self._choose_file)
        self.info = {k: QLabel() for k in INFO}
        for label in self.info.values():
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
        self.info["problem"].setTextFormat(Qt.TextFormat.RichText)
        pick = QHBoxLayout()
        pick.addWidget(self.path, 1)
        pick.addWidget(self.pick_folder)
        pick.addWidget(self.pick_file)
        self.form = QFormLayout(self)
        label = QLabel()
        label.setBuddy(self.path)
        self.form.addRow(label, pick)
        for key in INFO:
            self.form.addRow(QLabel(), self.info[key])

    def retranslate(self) -> None:
        t = self.state.tr
        self.setTitle(t("new.model"))
        self.path.setPlaceholderText(t("new.model_hint"))
        self.path.setAccessibleName(t("gui.new.a11y.model"))
        self.path.setAccessibleDescription(t("gui.new.a11y.model_desc"))
        self.pick_folder.setText(t("gui.new.pick_folder"))
        self.pick_folder.setAccessibleName(t("gui.new.a11y.pick_folder"))
        self.pick_file.setText(t("gui.new.pick_file"))
        self.pick_file.setAccessibleName(t("gui.new.a11y.pick_file"))
        self.form.itemAt(0, QFormLayout.ItemRole.LabelRole).widget().setText(t("gui.new.label.model"))
        for row, key in enumerate(INFO, start=1):
            self.form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().setText(t(f"new.{key}"))
            self.info[key].setAccessibleName(t(f"new.{key}"))
        self._show()

    def chosen(self) -> str:
        return self.path.text().strip()

    def problem(self) -> str:
        """The preview's problem in the UI language, for the path as it stands ("" when none is known)."""
        info = self.model_info if self.chosen() == self.preview_for else None
        if not info or not info.get("problem"):
            return ""
        return problem_sentence(str(info["problem"]), self.state.lang, info.get("files"))

    def previewing(self) -> bool:
        return bool(self.preview_for) and self.chosen() == self.preview_for and self.model_info is None

    def _edited(self, text: str) -> None:
        """The preview describes the previewed path only: edited away from it, the box shows nothing stale."""
        if text.strip() != self.preview_for:
            for label in self.info.values():
                label.setText("")
            self._hide_empty_rows()
        else:
            self._show()
        self.changed.emit()

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.state.tr("new.model"), self.state.settings.folder("model"))
        if path:
            self.set_model(path)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.state.tr("new.model"), self.state.settings.folder("model"))
        if path:
            self.set_model(path)

    def set_model(self, path: str) -> None:
        """Shows the model's format, size and hash, computed in a child process (hashing can take seconds)."""
        path = path.strip()
        if path and not self.state.source.local:   # a path on the service's disk: the service checks it
            self.path.setText(path)
            self.named.emit(api.default_model_name(Path(path)))
            return
        if not path or path == self.preview_for:
            return
        self.preview_for = path
        self.model_info = None
        self.path.setText(path)
        self.state.settings.remember_folder("model", str(Path(path).parent))
        self._show()
        self.previewer.start(path)
        self.named.emit(api.default_model_name(Path(path)))
        self.changed.emit()

    def _previewed(self, path: str, info: dict[str, Any]) -> None:
        if path != self.preview_for:
            return
        self.model_info = info
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        info, lang = self.model_info, self.state.lang
        if info is None:
            for label in self.info.values():
                label.setText("")
            if self.preview_for:
                self.info["format"].setText(self.state.tr("new.preview_wait"))
            self._hide_empty_rows()
            return
        files = info.get("files") or []
        problem = str(info.get("problem") or "")
        self.info["format"].setText(str(info.get("format") or "–"))
        self.info["size"].setText(human_size(info["size_bytes"]) if info.get("size_bytes") is not None else "–")
        self.info["sha"].setText(str(info.get("sha256") or "–"))
        self.info["files"].setText(self.state.tr("gui.new.files", n=len(files)))
        # the sentence in bold red; the engine's own line below it in plain dark grey (it is only the detail)
        said = problem_sentence(problem, lang, files) if problem else ""
        detail = self.state.tr("gui.new.detail", detail=problem) if problem else ""
        self.info["problem"].setText(f"<b style='color:#c62828'>{html.escape(said)}</b><br>"
                                     f"<span style='color:#424242'>{html.escape(detail)}</span>" if problem else "")
        self.info["problem"].setAccessibleDescription(problem_text(problem, lang, files) if problem else "")
        self._hide_empty_rows()

    def _hide_empty_rows(self) -> None:
        """A row shows only with something beside its label: no "Problem" label without a problem, no empty
        Format, Size, … before a model is chosen."""
        for label in self.info.values():
            self.form.setRowVisible(label, bool(label.text()))
