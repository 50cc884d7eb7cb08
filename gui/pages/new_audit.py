"""New audit: model (previewed before anything runs), probe set, template, metadata; run with progress, cancel."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from auditor import api
from gui.preview import ModelPreview, human_size
from gui.state import AppState
from gui.worker import AuditJob, AuditWorker, WorkerError

META = ("name", "version", "purpose", "users", "out_of_scope", "preparer", "decision_requested")
ERROR_TEXT = {"pickle": "err.pickle", "bad_input": "err.bad_input", "oom": "err.oom", "failed": "err.failed",
              "crash": "err.crash", "start": "err.start"}


def show_worker_error(parent: QWidget, error: WorkerError, state: AppState) -> None:
    """One clear dialog: what happened in plain words, then the worker's own sentence."""
    text = state.tr(ERROR_TEXT.get(error.kind, "err.failed"))
    if error.message:
        text += "\n\n" + state.tr("err.details", msg=error.message)
    QMessageBox.critical(parent, state.tr("err.title"), text)


class NewAuditPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.worker = AuditWorker(self, lang=lambda: state.lang)
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        self.previewer = ModelPreview(self)
        self.previewer.done.connect(self._previewed)
        self.model_info: dict[str, Any] | None = None
        self.last_error: WorkerError | None = None
        self.last_audit_id = ""
        self._preview_for = ""
        self._templates: list[Any] = []
        self._make_widgets()
        self._lay_out()
        state.language_changed.connect(lambda _l: self.retranslate())
        self._load_templates()
        self.retranslate()

    def _make_widgets(self) -> None:
        """The page's inputs, buttons and progress line, with their signals connected."""
        self.model_path = QLineEdit()
        self.model_path.editingFinished.connect(lambda: self.set_model(self.model_path.text()))
        self.pick_folder = QPushButton(clicked=self._choose_folder)
        self.pick_file = QPushButton(clicked=self._choose_file)
        self.info = {k: QLabel() for k in ("format", "size", "sha", "files", "problem")}
        for label in self.info.values():
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
        self.info["problem"].setStyleSheet("color:#c62828;font-weight:bold")
        self.probes = QComboBox()
        self.probes.activated.connect(self._probe_chosen)
        self.probe_path = ""
        self.template = QComboBox()
        self.template.currentIndexChanged.connect(self._describe_template)
        self.template_text = QLabel(wordWrap=True)
        self.meta = {k: QLineEdit() for k in META}
        self.limit = QSpinBox(minimum=0, maximum=1_000_000)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.run_button = QPushButton(clicked=self.start)
        self.cancel_button = QPushButton(clicked=self.cancel, enabled=False)
        self.open_button = QPushButton(clicked=lambda: self.state.open_audit(self.last_audit_id), visible=False)
        self.bar = QProgressBar(maximum=1000, textVisible=True)
        self.step = QLabel(wordWrap=True)

    def _lay_out(self) -> None:
        """Model and run settings on the left, audit details on the right, run controls below."""
        self.model_box, self.run_box, self.meta_box = QGroupBox(), QGroupBox(), QGroupBox()
        pick = QHBoxLayout()
        pick.addWidget(self.model_path, 1)
        pick.addWidget(self.pick_folder)
        pick.addWidget(self.pick_file)
        self.model_form = QFormLayout(self.model_box)
        self.model_form.addRow(pick)
        for key in ("format", "size", "sha", "files", "problem"):
            self.model_form.addRow(QLabel(), self.info[key])
        self.run_form = QFormLayout(self.run_box)
        for widget in (self.probes, self.template, self.template_text, self.limit, self.device):
            self.run_form.addRow(QLabel(), widget)
        self.meta_form = QFormLayout(self.meta_box)
        for key in META:
            self.meta_form.addRow(QLabel(), self.meta[key])

        body = QWidget()
        grid = QGridLayout(body)
        grid.addWidget(self.model_box, 0, 0)
        grid.addWidget(self.run_box, 1, 0)
        grid.addWidget(self.meta_box, 0, 1, 2, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(2, 1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(body)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.bar, 1)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.step)

    # ---- texts
    def retranslate(self) -> None:
        t = self.state.tr
        self.model_box.setTitle(t("new.model"))
        self.run_box.setTitle(t("new.probes") + " · " + t("new.template"))
        self.meta_box.setTitle(t("new.meta"))
        self.model_path.setPlaceholderText(t("new.model_hint"))
        self.pick_folder.setText(t("new.pick_folder"))
        self.pick_file.setText(t("new.pick_file"))
        for row, key in enumerate(("format", "size", "sha", "files", "problem"), start=1):
            self.model_form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().setText(t(f"new.{key}"))
        for row, key in enumerate(("new.probes", "new.template", "", "new.limit", "new.device")):
            self.run_form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().setText(t(key) if key else "")
        for row, key in enumerate(META):
            self.meta_form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().setText(t(f"meta.{key}"))
        current = self.probes.currentData()
        self.probes.clear()
        self.probes.addItem(t("new.probe_text"), "builtin:text")
        self.probes.addItem(t("new.probe_images"), "builtin:images")
        self.probes.addItem(self.probe_path or t("new.probe_file"), "file")
        self.probes.addItem(t("new.probe_folder"), "folder")
        self.probes.setCurrentIndex(max(0, self.probes.findData(current)))
        self.run_button.setText(t("new.run"))
        self.cancel_button.setText(t("new.cancel"))
        self.open_button.setText(t("new.open"))
        self._describe_template()
        if not self.worker.running() and not self.last_audit_id and self.last_error is None:
            self.step.setText(t("new.idle"))

    def _load_templates(self) -> None:
        try:
            self._templates = api.list_templates()
        except Exception:  # a broken built-in template must not stop the window
            self._templates = []
        for tpl in self._templates:
            self.template.addItem(f"{tpl.name} (v{tpl.version})", tpl.name)
        self._describe_template()

    def _describe_template(self) -> None:
        i = self.template.currentIndex()
        if 0 <= i < len(self._templates):
            tpl = self._templates[i]
            minimum = self.state.tr("new.min_probes", n=tpl.min_probes) if tpl.min_probes else ""
            self.template_text.setText(f"{tpl.describe(self.state.lang)}\n"
                                       + self.state.tr("new.checks", n=len(tpl.checks)) + (f"\n{minimum}" if minimum else ""))
            # a sample below the template's minimum would only be refused by the worker
            if 0 < self.limit.value() < tpl.min_probes:
                self.limit.setValue(tpl.min_probes)

    # ---- model and probes
    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.state.tr("new.model"), self.state.settings.folder("model"))
        if path:
            self.set_model(path)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.state.tr("new.model"), self.state.settings.folder("model"))
        if path:
            self.set_model(path)

    def set_model(self, path: str) -> None:
        """Shows the model's format, size and hash, computed on a pool thread (hashing can take seconds)."""
        path = path.strip()
        if not path or path == self._preview_for:
            return
        from pathlib import Path

        self.model_path.setText(path)
        self.state.settings.remember_folder("model", str(Path(path).parent))
        self._preview_for = path
        self.model_info = None
        for label in self.info.values():
            label.setText("")
        self.info["format"].setText(self.state.tr("new.preview_wait"))
        self.previewer.start(path)
        if not self.meta["name"].text():   # the name the worker records when left empty
            self.meta["name"].setPlaceholderText(api.default_model_name(Path(path)))

    def _previewed(self, path: str, info: dict[str, Any]) -> None:
        if path != self._preview_for:
            return
        self.model_info = info
        self.info["format"].setText(str(info.get("format") or "–"))
        self.info["size"].setText(human_size(info.get("size_bytes") or 0))
        self.info["sha"].setText(str(info.get("sha256") or "–"))
        self.info["files"].setText(str(len(info.get("files") or [])))
        self.info["problem"].setText(str(info.get("problem") or ""))

    def _probe_chosen(self) -> None:
        choice = self.probes.currentData()
        if choice not in ("file", "folder"):
            return
        start = self.state.settings.folder("probes")
        if choice == "folder":
            path = QFileDialog.getExistingDirectory(self, self.state.tr("new.probes"), start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, self.state.tr("new.probes"), start,
                                                  "Probes (*.csv *.jsonl *.npz);;All files (*)")
        if path:
            self.set_probe_file(path)
        elif not self.probe_path:
            self.probes.setCurrentIndex(0)

    def set_probe_file(self, path: str) -> None:
        from pathlib import Path

        self.probe_path = path
        self.state.settings.remember_folder("probes", str(Path(path).parent))
        self.probes.setItemText(2, path)
        self.probes.setCurrentIndex(2)

    # ---- running
    def job(self) -> AuditJob:
        spec = self.probes.currentData()
        meta = {k: self.meta[k].text().strip() for k in META}
        return AuditJob(model=self.model_path.text().strip(),
                        probes=self.probe_path if spec == "file" else (spec or "builtin:text"),
                        template=self.template.currentData(), db=self.state.db, limit=self.limit.value() or None,
                        device=self.device.currentText(), name=meta.pop("name"), version=meta.pop("version"),
                        meta=meta)

    def start(self) -> None:
        if self.worker.running():
            self.step.setText(self.state.tr("new.busy"))
            return
        if not self.model_path.text().strip():
            self.step.setText(self.state.tr("new.idle"))
            return
        self.last_error, self.last_audit_id = None, ""
        self.open_button.setVisible(False)
        self.bar.setValue(0)
        self.step.setText(self.state.tr("new.starting"))
        self._set_running(True)
        self.worker.start(self.job())

    def cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.worker.cancel()

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for w in (self.model_box, self.run_box, self.meta_box):
            w.setEnabled(not running)

    def _progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(int(fraction * 1000))
        self.bar.setFormat(f"{fraction * 100:.0f}%")
        self.step.setText(message)

    def _finished(self, audit_id: str) -> None:
        self._set_running(False)
        self.last_audit_id = audit_id
        self.bar.setValue(1000)
        self.step.setText(self.state.tr("new.done", id=audit_id))
        self.open_button.setVisible(True)
        self.state.audits_changed.emit()

    def _cancelled(self) -> None:
        self._set_running(False)
        self.step.setText(self.state.tr("new.cancelled"))
        self.state.audits_changed.emit()

    def _failed(self, error: WorkerError) -> None:
        self._set_running(False)
        self.last_error = error
        self.step.setText(self.state.tr("new.failed") + (f" {error.message}" if error.message else ""))
        self.state.audits_changed.emit()
        show_worker_error(self, error, self.state)
