"""New audit: model (previewed before anything runs), probe set, template with its time estimate, metadata;
run with progress in plain words (gui/widgets/progress_panel.py), cancel.

Run is enabled only when a model is chosen and its preview found no problem; the reason is its tooltip and
accessible description. The template defaults to the CLI's (`standard`); a template that is not
approval-grade says so beside the choice. The template list is read once per process on a pool thread (about
200 ms: it would stall the window while the page is built); Run reads it at once if it has not arrived.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from auditor import api
from gui.dialogs import failure_sentence, worker_error
from gui.estimate import default_estimate, estimate_text, plan_estimate
from gui.service_run import RunWorker, default_template, reread_templates, server_note, service_estimate
from gui.state import AppState
from gui.theme import badge_style
from gui.widgets.model_box import ModelBox
from gui.widgets.progress_panel import ProgressPanel
from gui.widgets.wrapping_label import WrappingLabel
from gui.worker import AuditJob, WorkerError, in_background

META = ("name", "version", "purpose", "users", "out_of_scope", "preparer", "decision_requested")


class NewAuditPage(QWidget):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state
        self.worker = RunWorker(self, state)      # the local worker process, or the service's queue when connected
        self.worker.event.connect(lambda event: self.panel.advance(event))
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        self.last_error: WorkerError | None = None
        self.last_audit_id = ""
        self.estimate: Any = None
        self._estimate_error, self._estimate_for = "", 0     # the generation of the newest estimate request
        self._templates: list[Any] = []
        self._templates_read = False     # the list arrived (it may be empty: a broken template never stops the page)
        self._make_widgets()
        self._lay_out()
        state.language_changed.connect(lambda _l: self.retranslate())
        state.db_changed.connect(lambda _d: reread_templates(self, _read_templates, _read))
        state.audits_changed.connect(self.refresh_estimate)      # a finished audit is a new measurement
        # on a pool thread, unless read before (another window); in service mode the server's own list
        reread_templates(self, _read_templates, _read)
        self.panel.show_idle(self._idle_text)
        self.retranslate()

    def _make_widgets(self) -> None:
        """The page's inputs, buttons and progress panel, with their signals connected."""
        self.model_box = ModelBox(self.state)
        self.model_box.changed.connect(self._model_changed)
        self.model_box.named.connect(lambda name: self.meta["name"].text() or self.meta["name"].setPlaceholderText(name))
        # the names scripts and tests use
        self.model_path, self.info, self.previewer = self.model_box.path, self.model_box.info, self.model_box.previewer
        self.pick_folder, self.pick_file = self.model_box.pick_folder, self.model_box.pick_file
        self.probes = QComboBox()
        self.probes.activated.connect(self._probe_chosen)
        self.probes.currentIndexChanged.connect(lambda _i: self.refresh_estimate())
        self.probe_path = ""
        self.template = QComboBox(currentIndexChanged=self._describe_template)
        self.template_text, self.not_approval = WrappingLabel(), WrappingLabel(visible=False)
        self.not_approval.setStyleSheet(badge_style("warn"))
        self.estimate_label = WrappingLabel()
        self.meta = {k: QLineEdit() for k in META}
        self.limit = QSpinBox(minimum=0, maximum=1_000_000)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.currentIndexChanged.connect(lambda _i: self.refresh_estimate())
        self.dtype = QComboBox()         # the precision policy (auditor.models.precision)
        self.dtype.addItems(["auto", "float32", "bfloat16", "float16"])
        # typing 1, 2, 8 is one change
        self._limit_timer = QTimer(self, singleShot=True, interval=300, timeout=self.refresh_estimate)
        self.limit.valueChanged.connect(lambda _v: self._limit_timer.start())
        self.run_button = QPushButton(clicked=self.start)
        self.cancel_button = QPushButton(clicked=self.cancel, enabled=False)
        self.open_button = QPushButton(clicked=lambda: self.state.open_audit(self.last_audit_id), visible=False)
        self.panel = ProgressPanel(self.state)
        self.bar, self.step = self.panel.bar, self.panel.phase     # the names scripts and tests use
        self.server_note = server_note(self)       # in service mode: the model path is on the server

    def _lay_out(self) -> None:
        """Model and run settings on the left, audit details on the right, run controls below."""
        self.run_box, self.meta_box = QGroupBox(), QGroupBox()
        self.run_form = QFormLayout(self.run_box)
        for widget in (self.probes, self.template, self.template_text, self.not_approval, self.estimate_label,
                       self.limit, self.device, self.dtype):
            self.run_form.addRow(QLabel(buddy=widget), widget)   # its Alt+letter focuses the widget
        self.meta_form = QFormLayout(self.meta_box)
        for key in META:
            self.meta_form.addRow(QLabel(buddy=self.meta[key]), self.meta[key])

        body = QWidget()
        grid = QGridLayout(body)
        grid.addWidget(self.model_box, 0, 0)
        grid.addWidget(self.run_box, 1, 0)
        grid.addWidget(self.meta_box, 0, 1, 2, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(2, 1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button, 0, Qt.AlignmentFlag.AlignTop)
        buttons.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignTop)
        buttons.addWidget(self.panel, 1)
        buttons.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)

    # ---- texts
    def retranslate(self) -> None:
        t = self.state.tr
        self.model_box.retranslate()
        self.run_box.setTitle(t("new.probes") + " · " + t("new.template"))
        self.meta_box.setTitle(t("new.meta"))
        for row, key in enumerate(("gui.new.label.probes", "gui.new.label.template", "", "",
                                   "gui.new.label.estimate", "gui.new.label.limit", "gui.new.label.device",
                                   "gui.new.label.dtype")):
            _label(self.run_form, row).setText(t(key) if key else "")
        for row, key in enumerate(META):
            _label(self.meta_form, row).setText(t(f"meta.{key}"))
        self._fill_probes()
        self.template.setPlaceholderText(t("gui.new.templates_loading"))   # shown until the list arrives
        for button, key in ((self.run_button, "run"), (self.cancel_button, "cancel"), (self.open_button, "open")):
            button.setText(t(f"gui.new.{key}"))
        self._name_controls()
        self._describe_template()
        self._show_estimate()
        self.panel.retranslate()
        self._update_run()

    def _name_controls(self) -> None:
        """Accessible names (what a screen reader says) and descriptions, in the UI language."""
        t = self.state.tr
        pairs = {self.probes: ("new.probes", "gui.new.a11y.probes_desc"),
                 self.template: ("new.template", "gui.new.a11y.template_desc"),
                 self.limit: ("new.limit", "gui.new.a11y.limit_desc"),
                 self.device: ("new.device", "gui.new.a11y.device_desc"),
                 self.dtype: ("gui.new.name.dtype", "gui.new.a11y.dtype_desc"),
                 self.cancel_button: ("new.cancel", "gui.new.a11y.cancel_desc"),
                 self.open_button: ("new.open", "gui.new.a11y.open_desc"),
                 self.estimate_label: ("gui.new.label.estimate", "")}
        pairs.update({self.meta[k]: (f"meta.{k}", "gui.new.a11y.meta_desc") for k in META})
        for widget, (name, desc) in pairs.items():
            widget.setAccessibleName(t(name))
            widget.setAccessibleDescription(t(desc) if desc else "")
        self.run_button.setAccessibleName(t("new.run"))

    def _idle_text(self) -> str:
        key = "new.idle" if not self.model_box.chosen() else "new.preview_wait" if self.model_box.previewing() else ""
        return self.state.tr(key) if key else "" if self._run_block() else self.state.tr("gui.new.ready")

    def _fill_probes(self) -> None:
        t = self.state.tr
        current = self.probes.currentData()
        self.probes.blockSignals(True)
        self.probes.clear()
        self.probes.addItem(t("new.probe_text"), "builtin:text")
        self.probes.addItem(t("new.probe_images"), "builtin:images")
        self.probes.addItem(self.probe_path or t("new.probe_file"), "file")
        self.probes.addItem(t("new.probe_folder"), "folder")
        self.probes.setCurrentIndex(max(0, self.probes.findData(current)))
        self.probes.blockSignals(False)

    def _templates_arrived(self, templates: list[Any]) -> None:
        if self._templates_read:
            return       # already read on the spot by Run
        self._templates_read, self._templates = True, list(templates)
        self.template.blockSignals(True)
        for tpl in self._templates:
            self.template.addItem(f"{tpl.name} (v{tpl.version})", tpl.name)
        # the CLI's default: a full, approval-grade audit unless the officer chooses otherwise
        self.template.setCurrentIndex(max(0, self.template.findData(default_template(self.state.source))))
        self.template.blockSignals(False)
        self._describe_template()

    def ensure_templates(self) -> None:
        """The template list now, read on this thread if the pool thread's answer has not arrived yet."""
        if not self._templates_read:
            self._templates_arrived(_read_templates())

    def chosen_template(self) -> Any:
        i = self.template.currentIndex()
        return self._templates[i] if 0 <= i < len(self._templates) else None

    def _describe_template(self) -> None:
        tpl = self.chosen_template()
        t = self.state.tr
        if tpl is None:
            self.template_text.setText("" if self._templates_read else t("gui.new.templates_loading"))
            self.run_form.setRowVisible(self.not_approval, False)
            return
        minimum = t("new.min_probes", n=tpl.min_probes) if tpl.min_probes else ""
        self.template_text.setText(f"{tpl.describe(self.state.lang)}\n" + t("new.checks", n=len(tpl.checks))
                                   + (f"\n{minimum}" if minimum else ""))
        self.run_form.setRowVisible(self.not_approval, not tpl.approval_grade)   # no empty gap when hidden
        self.not_approval.setText(t("gui.new.not_approval", template=tpl.name,
                                    grades=[x.name for x in self._templates if x.approval_grade]))
        self.not_approval.setAccessibleName(self.not_approval.text())
        # a sample below the template's minimum would only be refused by the worker
        if 0 < self.limit.value() < tpl.min_probes:
            self.limit.setValue(tpl.min_probes)
        self.refresh_estimate()

    # ---- the estimate
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.refresh_estimate()   # computed when the page is seen (not while the window starts), with new history

    def refresh_estimate(self) -> None:
        """A new estimate off the UI thread (it reads the probe set and the database's earlier audits)."""
        tpl = self.chosen_template()
        if tpl is None or not self.isVisible() or self.worker.running() or service_estimate(self):
            return
        self._estimate_for += 1
        generation = self._estimate_for
        spec = self.probe_path if self.probes.currentData() == "file" else (self.probes.currentData() or "builtin:text")
        if spec == "folder":
            return
        args = (self.state.db, tpl, spec, self.limit.value() or None, self.model_info, self.device.currentText())
        self.estimate_label.setText(self.state.tr("gui.new.estimate.wait"))
        in_background(lambda: plan_estimate(*args), lambda est: self._estimated(generation, est),
                      lambda message: self._estimated(generation, None, message), owner=self)

    def _estimated(self, generation: int, estimate: Any, error: str = "") -> None:
        if generation != self._estimate_for:
            return   # the form changed since this one was asked for
        self.estimate = estimate
        self._estimate_error = error
        self._show_estimate()

    def _show_estimate(self) -> None:
        if self.estimate is not None:
            self.estimate_label.setText(estimate_text(self.estimate, self.state.lang))
        elif self._estimate_error:
            self.estimate_label.setText(self.state.tr("gui.new.estimate.none"))
            self.estimate_label.setToolTip(self._estimate_error)
        self.estimate_label.setAccessibleDescription(self.estimate_label.text())

    # ---- model and probes
    @property
    def model_info(self) -> dict[str, Any] | None:
        return self.model_box.model_info

    def set_model(self, path: str) -> None:
        self.model_box.set_model(path)

    def _model_changed(self) -> None:
        self._form_changed()
        if self.model_box.model_info is not None:
            self.refresh_estimate()   # the model's size is known now

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
        self.probe_path = path
        self.state.settings.remember_folder("probes", str(Path(path).parent))
        self.probes.setItemText(2, path)
        self.probes.setCurrentIndex(2)
        self.refresh_estimate()

    # ---- whether Run may be pressed
    def _run_block(self) -> str:
        """Why Run is disabled, in the UI language; "" when it may be pressed."""
        t = self.state.tr
        if self.worker.running():
            return t("gui.new.run_tip.running")
        if not self.model_box.chosen():
            return t("gui.new.run_tip.no_model")
        problem = self.model_box.problem()
        return t("gui.new.run_tip.problem", problem=problem) if problem else ""

    def _update_run(self, running: bool = False) -> None:
        reason = self.state.tr("gui.new.run_tip.running") if running else self._run_block()
        self.run_button.setEnabled(not reason)
        tip = reason or self.state.tr("gui.new.run_tip.ready")
        self.run_button.setToolTip(tip)
        self.run_button.setAccessibleDescription(tip)

    def _form_changed(self) -> None:
        self._update_run()
        if self.panel.mode == "idle":
            self.panel.show_idle(self._idle_text)

    # ---- running
    def job(self) -> AuditJob:
        spec = self.probes.currentData()
        meta = {k: self.meta[k].text().strip() for k in META}
        return AuditJob(model=self.model_path.text().strip(),
                        probes=self.probe_path if spec == "file" else (spec or "builtin:text"),
                        template=self.template.currentData(), db=self.state.db, limit=self.limit.value() or None,
                        device=self.device.currentText(), dtype=self.dtype.currentText(),
                        name=meta.pop("name"), version=meta.pop("version"),
                        meta=meta)

    def start(self) -> None:
        if self.worker.running():
            return
        if not self.model_box.chosen():
            self._update_run()
            return
        self.ensure_templates()
        self.last_error, self.last_audit_id = None, ""
        self.open_button.setVisible(False)
        tpl = self.chosen_template()
        estimate = self.estimate or default_estimate(tpl, self.limit.value() or None)
        self.panel.begin(estimate, tuple(c.id for c in tpl.checks) if tpl else ())
        self._set_running(True)
        self.worker.start(self.job())

    def cancel(self) -> None:
        """Says "Cancelling…" at once; the worker stops at its next safe point (up to seconds later)."""
        self.cancel_button.setEnabled(False)
        self.panel.cancelling()
        self.worker.cancel()

    def _set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        for w in (self.model_box, self.run_box, self.meta_box):
            w.setEnabled(not running)
        self._update_run(running)

    def _finished(self, audit_id: str) -> None:
        self.last_audit_id = audit_id
        self.panel.finish("completed", lambda: self.state.tr("new.done", id=audit_id))
        self._set_running(False)
        self.open_button.setVisible(True)
        self.state.changed(audit_id)

    def _cancelled(self) -> None:
        self.panel.finish("cancelled", lambda: self.state.tr("new.cancelled"))
        self._set_running(False)
        self.state.changed(self.worker.audit_id())

    def _failed(self, error: WorkerError) -> None:
        self.last_error = error
        self.panel.finish("failed", lambda: self.state.tr(
            "gui.new.failed", reason=failure_sentence(error, self.state.lang)))
        self._set_running(False)
        self.state.changed(self.worker.audit_id())
        worker_error(self, error, self.state.lang)


def _read_templates() -> list[Any]:
    """The built-in templates, read once per process (package files: they do not change while it runs)."""
    global _read
    try:
        _read = _read if _read is not None else list(api.list_templates())
    except Exception:  # a broken built-in template must not stop the window (tried again next time)
        return []
    return _read


_read: list[Any] | None = None


def _label(form: QFormLayout, row: int) -> QLabel:
    widget = form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
    assert isinstance(widget, QLabel)
    return widget
