"""New audit page (issue 17 items 4, 6, 7, 9): default template and its estimate, Run disabled on a problem,
progress in plain words, "Cancelling…" at once, a bar that shows how the run ended, Japanese throughout.

A run here is a stand-in worker: a script that speaks the engine's own jsonl progress (auditor.progress and
auditor.cli_progress, the CLI's classes) and then ends as each test needs, so the page is tested in seconds;
tests/gui/test_worker_audits.py runs the real engine.
"""
from __future__ import annotations

import pickle
import re
import sys
import textwrap

import pytest
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QSpinBox

FAKE = textwrap.dedent("""
    import os, signal, sys, time
    from auditor.cli_progress import ProgressSink
    from auditor.messages import Message
    from auditor.progress import Progress

    mode = os.environ.get("FAKE_AUDIT", "run")

    def term(*_args):
        time.sleep(1.0)          # the engine stops at its next safe point, not at once
        sys.stderr.write("auditor: audit fake-0001 was cancelled; it is recorded as cancelled\\n")
        sys.exit(3)

    signal.signal(signal.SIGTERM, term)
    sink = ProgressSink("jsonl")
    bar = Progress(sink)
    steps = []
    bar(0.01, Message("progress.audit.loading"))
    run = bar.slice(0.02, 0.95)
    capture = run.slice(0.0, 0.6, "capture", Message("progress.capture"))
    steps += [lambda: capture(0.0, Message("progress.capture.start"))]
    steps += [lambda d=d: capture(d / 16, Message("progress.capture.probes", {"done": d, "total": 16})) for d in (8, 16)]
    check = run.slice(0.6, 0.2, "bottleneck.information_plane", Message("check.bottleneck.information_plane.title"))
    steps += [lambda: check(0.0, Message("progress.check.running")), lambda: check(0.5, "layer 3/6")]
    for step in steps:
        time.sleep(0.15)         # the sink writes at most ten lines a second
        step()
    if mode == "fail":
        sys.stderr.write("auditor: audit fake-0001 failed: ValueError: boom\\n")
        sys.exit(3)
    if mode == "ok":
        bar(1.0, Message("progress.audit.complete"))
        sink.event("finished", audit_id="fake-0001")
        sys.exit(0)
    while True:
        time.sleep(0.1)
""")


@pytest.fixture
def page_with_fake(make_window, tmp_path, monkeypatch):
    """The New audit page whose worker runs the stand-in; `mode` is run (until cancelled), fail or ok."""
    script = tmp_path / "fake_audit.py"
    script.write_text(FAKE)
    wrapper = tmp_path / "fake-python"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {script}\n")
    wrapper.chmod(0o755)

    def make(mode: str = "run", lang: str = "en"):
        monkeypatch.setenv("FAKE_AUDIT", mode)
        window = make_window(tmp_path / "fake.db")
        window.set_language(lang)
        window.show_page("new")
        page = window.new_audit
        page.worker.python = str(wrapper)
        page.model_path.setText(str(tmp_path / "some-model"))   # typed, not previewed: Run is allowed
        return window, page
    return make


def _preview(qtbot, page, path):
    page.set_model(str(path))
    qtbot.waitUntil(lambda: page.model_info is not None, timeout=30000)
    return page.model_info


def _templates(qtbot, page):
    """Waits for the template list (read on a pool thread since the page must not stall the window)."""
    qtbot.waitUntil(lambda: page.template.count() > 0, timeout=20000)


def test_the_default_template_is_standard_and_quick_says_not_for_approval(make_window, qtbot):
    window = make_window()
    page = window.new_audit
    _templates(qtbot, page)
    assert page.template.currentData() == "standard"
    assert not page.run_form.isRowVisible(page.not_approval)
    page.template.setCurrentIndex(page.template.findData("quick"))
    assert page.run_form.isRowVisible(page.not_approval)
    assert "a first look, not for approval" in page.not_approval.text()
    # it names the templates that can be approved, as the list offers them (not a list of ours that ages)
    assert "eu-ai-act-high-risk, japan-ai-guidelines, standard for a decision" in page.not_approval.text()
    window.set_language("ja")
    assert "承認には使えません" in page.not_approval.text()


def test_run_waits_for_a_model_and_the_idle_line_goes_once_one_is_chosen(make_window, qtbot, minilm_path):
    window = make_window()
    window.show_page("new")
    page = window.new_audit
    assert page.step.text() == "Choose a model to begin."
    assert not page.run_button.isEnabled() and page.run_button.toolTip() == "Choose a model first."
    info = _preview(qtbot, page, minilm_path)
    assert not info["problem"] and info["parameters"] > 20_000_000
    assert page.step.text() != "Choose a model to begin." and "Run audit" in page.step.text()
    assert page.run_button.isEnabled() and page.run_button.accessibleDescription() == page.run_button.toolTip()


def test_run_is_disabled_for_a_text_file_named_model_onnx(make_window, qtbot, tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_text("this is not a model\n")
    window = make_window()
    page = window.new_audit
    info = _preview(qtbot, page, fake)
    assert info["problem"]
    assert not page.run_button.isEnabled()
    assert "could not be parsed" in page.run_button.toolTip() and page.run_button.toolTip().startswith(
        "This model cannot be audited: The file is damaged")
    window.set_language("ja")
    assert page.run_button.toolTip().startswith("このモデルは監査できません：ファイルが壊れている")
    assert "詳細: " in page.info["problem"].accessibleDescription()


def test_a_folder_of_pickle_weights_is_refused_by_name_and_counted_honestly(make_window, qtbot, tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    weights = pickle.dumps({"weights": list(range(2000))})
    (folder / "pytorch_model.bin").write_bytes(weights)
    window = make_window()
    page = window.new_audit
    info = _preview(qtbot, page, folder)
    assert info["size_bytes"] == len(weights) and len(info["files"]) == 1
    assert page.info["files"].text() == "1 file(s)" and page.info["size"].text() != "0 B"
    assert "pickle files (pytorch_model.bin)" in page.info["problem"].accessibleDescription()
    assert not page.run_button.isEnabled() and "pickle" in page.run_button.toolTip()
    window.set_language("ja")
    said = page.info["problem"].accessibleDescription()
    assert said.startswith("モデルの重みが pickle 形式のファイル（pytorch_model.bin）です。")
    assert "\n詳細: " in said and "is a pickle file" in said.split("詳細: ")[1]
    assert page.info["files"].text() == "1 個"


def test_the_estimate_is_shown_before_running(make_window, qtbot, minilm_path):
    window = make_window()
    window.show_page("new")
    page = window.new_audit
    _preview(qtbot, page, minilm_path)
    qtbot.waitUntil(lambda: bool(page.estimate and page.estimate.parameters
                                 and page.estimate_label.text() != "Estimating…"), timeout=30000)
    assert 10 < page.estimate.total < 600 and page.estimate.probes == 330
    assert page.estimate_label.text().startswith("about ")
    assert "330 probes and a model of 22,713,728 parameters" in page.estimate_label.text()
    page.limit.setValue(256)
    qtbot.waitUntil(lambda: page.estimate.probes == 256 and "256" in page.estimate_label.text(), timeout=30000)
    window.set_language("ja")
    assert page.estimate_label.text().startswith("約 ") and "プローブ 256 件" in page.estimate_label.text()


def test_progress_is_said_in_plain_japanese_with_time(page_with_fake, qtbot):
    window, page = page_with_fake("run", "ja")
    said: list[str] = []
    page.worker.event.connect(lambda _e: said.append(page.step.text()))
    page.run_button.click()
    qtbot.waitUntil(lambda: "情報ボトルネック" in page.step.text(), timeout=30000)
    qtbot.waitUntil(lambda: page.panel.timing.text().startswith("経過 0:0"), timeout=5000)
    assert "モデルを読み込んでいます…" in said
    assert "各層の状態を取得しています（プローブ 16 件中 8 件）" in said
    checks = len(page.chosen_template().checks)       # the standard template's, counted, not remembered
    assert page.step.text() == f"チェック（{checks} 件中 5 件目）：情報ボトルネック"
    for text in said + [page.panel.timing.text(), page.bar.text()]:
        assert not re.search(r"[a-z]{2,}|[a-z_]+\.[a-z_]+", text), text    # no engine ids, no English
    page.cancel_button.click()
    qtbot.waitSignal(page.worker.cancelled, timeout=20000)


def test_cancel_says_cancelling_at_once_and_the_bar_ends_cancelled(page_with_fake, qtbot):
    window, page = page_with_fake("run")
    changed: list[str] = []
    window.state.audit_changed.connect(changed.append)
    page.run_button.click()
    assert not page.run_button.isEnabled() and page.run_button.toolTip().startswith("An audit is running")
    checks = len(page.chosen_template().checks)
    qtbot.waitUntil(lambda: page.step.text().startswith(f"Check 5 of {checks}"), timeout=30000)
    assert 0 < page.bar.value() < 1000
    page.cancel_button.click()
    # before any event is processed: the state is visible the moment Cancel is pressed
    assert page.step.text().startswith("Cancelling…") and page.bar.maximum() == 0
    assert page.bar.format() == "Cancelling…" and not page.cancel_button.isEnabled()
    assert re.fullmatch(r"Elapsed \d:\d\d", page.panel.timing.text())    # no time left is promised any more
    assert page.worker.running()
    with qtbot.waitSignal(page.worker.cancelled, timeout=20000):
        pass
    assert page.bar.maximum() == 1000 and page.bar.value() == 1000 and page.bar.text() == "– Cancelled"
    assert page.step.text() == window.state.tr("new.cancelled")
    assert page.panel.timing.text().startswith("Took 0:0")
    assert changed == ["fake-0001"]


def test_a_failed_run_ends_failed_with_a_japanese_sentence_first(page_with_fake, qtbot, dialogs):
    window, page = page_with_fake("fail", "ja")
    changed: list[str] = []
    window.state.audit_changed.connect(changed.append)
    with qtbot.waitSignal(page.worker.failed, timeout=30000):
        page.run_button.click()
    assert page.bar.value() == page.bar.maximum() == 1000 and page.bar.text() == "✗ 失敗"
    assert page.step.text() == "監査は完了しませんでした。監査の実行中に失敗しました。"
    kind, title, text = dialogs[-1]
    assert kind == "critical" and text.startswith("監査の実行中に失敗しました。")
    assert text.endswith("\n\n詳細: audit fake-0001 failed: ValueError: boom")
    assert changed == ["fake-0001"] and page.run_button.isEnabled()


def test_a_completed_run_ends_full_and_says_completed(page_with_fake, qtbot):
    window, page = page_with_fake("ok")
    with qtbot.waitSignal(page.worker.finished, timeout=30000):
        page.run_button.click()
    assert page.bar.value() == 1000 and page.bar.text() == "✓ Completed"
    assert "fake-0001" in page.step.text() and page.open_button.isVisible()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_control_has_an_accessible_name_and_buttons_have_mnemonics(make_window, lang):
    window = make_window()
    window.set_language(lang)
    page = window.new_audit
    controls = page.findChildren(QAbstractButton) + page.findChildren(QLineEdit) + page.findChildren(
        QComboBox) + page.findChildren(QSpinBox)
    controls = [c for c in controls if c.parent() is not None and c.objectName() != "qt_spinbox_lineedit"]
    assert len(controls) >= 15
    assert [c for c in controls if not c.accessibleName()] == []
    for button in (page.run_button, page.cancel_button, page.pick_folder, page.pick_file, page.open_button):
        assert "&" in button.text()
    assert page.run_button.text() == ("&Run audit" if lang == "en" else "監査を実行(&R)")


def test_refused_input_is_said_in_japanese_first_with_the_engine_line_as_detail(make_window, dialogs):
    from gui.dialogs import failure_sentence, worker_error
    from gui.worker import WorkerError

    window = make_window()
    error = WorkerError("bad_input", "/models/x: no such file or folder", 2)
    assert failure_sentence(error, "ja") == "入力が受け付けられませんでした。このパスにはファイルもフォルダもありません。"
    worker_error(window, error, "ja")
    assert dialogs[-1][2] == ("入力が受け付けられませんでした。このパスにはファイルもフォルダもありません。"
                              "\n\n詳細: /models/x: no such file or folder")
    assert failure_sentence(error, "en") == "The auditor refused the input. There is no file or folder at this path."


def test_the_template_list_is_read_off_the_ui_thread_and_run_reads_it_if_needed(make_window, qtbot, monkeypatch):
    """Building the page no longer reads and checks every template on the UI thread (about 200 ms, a stall
    while the window builds its pages); until the list arrives the template box says it is reading them."""
    import threading

    from auditor import api
    from gui.pages import new_audit

    threads: list[bool] = []
    real = api.list_templates

    def spy():
        threads.append(threading.current_thread() is threading.main_thread())
        return real()

    monkeypatch.setattr(api, "list_templates", spy)
    monkeypatch.setattr(new_audit, "_read", None)      # as at the window's first start
    window = make_window()
    page = window.new_audit
    assert page.template.count() == 0 and page.template_text.text() == "Reading the templates…"
    assert page.template.placeholderText() == "Reading the templates…"
    _templates(qtbot, page)
    assert threads == [False] and page.template.currentData() == "standard"
    assert "(11 checks)" in page.template_text.text()
    window.set_language("ja")
    assert page.template.placeholderText() == "テンプレートを読み込んでいます…"
    # a second window has the list at once (read once per process)
    assert make_window().new_audit.template.currentData() == "standard" and threads == [False]
    # Run before the list arrived: it is read on the spot, so the run has its template
    monkeypatch.setattr(new_audit, "_read", None)
    fresh = make_window().new_audit
    assert fresh.template.count() == 0
    fresh.ensure_templates()
    assert fresh.template.currentData() == "standard" and fresh.chosen_template().name == "standard"
    qtbot.wait(300)                  # the pool thread's late answer changes nothing
    assert fresh.template.count() == len(fresh._templates) == page.template.count()


def test_the_problem_row_shows_only_with_a_problem(make_window, qtbot, tiny_bert, tmp_path):
    """No "Problem" label with nothing beside it: the row shows with a problem and only then."""
    window = make_window()
    window.show_page("new")
    box = window.new_audit.model_box
    problem = box.info["problem"]
    assert not box.form.isRowVisible(problem) and not box.form.isRowVisible(box.info["format"])
    _preview(qtbot, window.new_audit, tiny_bert)
    assert box.form.isRowVisible(box.info["sha"]) and box.info["sha"].text()
    assert not box.form.isRowVisible(problem) and problem.text() == ""
    fake = tmp_path / "model.onnx"
    fake.write_text("this is not a model\n")
    _preview(qtbot, window.new_audit, fake)
    assert box.form.isRowVisible(problem) and "could not be parsed" in problem.text()
    window.new_audit.model_path.setText(str(tmp_path / "elsewhere"))     # edited away: nothing stale, no label
    assert not box.form.isRowVisible(problem)


def test_a_background_answer_after_its_receiver_was_deleted_is_dropped_quietly(qtbot, capfd):
    """A pool-thread job (an evidence check, a report) that ends after its window was closed: its signals'
    object is gone, and emitting used to print 'RuntimeError: Signal source has been deleted'."""
    import time

    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QWidget
    from shiboken6 import delete

    from gui import worker

    calls: list[object] = []
    signals = worker.in_background(lambda: time.sleep(0.3) or 1, calls.append, calls.append)
    delete(signals)                                   # what closing the window does to it
    assert QThreadPool.globalInstance().waitForDone(10000)
    qtbot.wait(50)
    assert calls == [] and signals not in worker._keep
    assert "Signal source has been deleted" not in capfd.readouterr().err
    # a callback of a deleted widget (`owner`) is not called either; a live one is
    owner = QWidget()
    worker.in_background(lambda: 2, lambda v: calls.append(owner.objectName()), owner=owner)
    delete(owner)
    alive = QWidget()
    qtbot.addWidget(alive)
    worker.in_background(lambda: 3, calls.append, owner=alive)
    qtbot.waitUntil(lambda: calls == [3], timeout=5000)
    qtbot.wait(50)
    assert calls == [3]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_chosen_precision_reaches_the_local_run_and_the_service_request(make_window, lang):
    from gui.service_run import request_of

    window = make_window()
    window.set_language(lang)
    page = window.new_audit
    assert page.dtype.currentText() == "auto" and page.dtype.accessibleName() == (
        "Precision" if lang == "en" else "数値精度")
    page.model_path.setText("/models/x")
    page.dtype.setCurrentText("bfloat16")
    job = page.job()
    args = job.arguments(None)
    assert args[args.index("--dtype") + 1] == "bfloat16"
    assert request_of(job)["dtype"] == "bfloat16"
