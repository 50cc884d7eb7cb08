"""New audit page: a real audit through the worker process, cancel, a hostile file, a crash."""
import os
import stat
import sys

import pytest

from auditor import api


def _wait_preview(qtbot, page):
    qtbot.waitUntil(lambda: page.model_info is not None, timeout=30000)
    return page.model_info


def test_audit_of_a_tiny_model_runs_in_the_worker_and_opens(make_window, qtbot, tmp_path, tiny_bert):
    db = tmp_path / "run.db"
    window = make_window(db)
    window.show_page("new")
    page = window.new_audit
    page.set_model(str(tiny_bert))
    info = _wait_preview(qtbot, page)
    assert info["format"] == "transformers" and len(info["sha256"]) == 64 and not info.get("problem")
    assert page.info["sha"].text() == info["sha256"]
    page.template.setCurrentIndex(page.template.findData("quick"))
    assert "minute" in page.template_text.text()
    page.limit.setValue(96)   # the quick template's min_probes
    page.meta["name"].setText("tiny-bert")
    page.meta["purpose"].setText("Routing customer e-mails")
    page.meta["preparer"].setText("A. Officer")
    steps = []
    page.worker.progress.connect(lambda f, m: steps.append((f, m)))
    with qtbot.waitSignal(page.worker.finished, timeout=90000) as done:
        page.run_button.click()
        assert not page.run_button.isEnabled() and page.cancel_button.isEnabled()
    audit_id = done.args[0]
    assert steps and steps[-1][0] == pytest.approx(1.0) and any("capture" in m for _, m in steps)
    assert page.bar.value() == 1000 and audit_id in page.step.text()
    assert page.run_button.isEnabled() and page.open_button.isVisible()
    qtbot.waitUntil(lambda: window.library.table.rowCount() == 1, timeout=5000)   # the library re-reads soon after
    stored = api.show_audit(audit_id, str(db))
    assert stored["status"] == "completed" and stored["meta"]["purpose"] == "Routing customer e-mails"
    page.open_button.click()
    assert window.stack.currentWidget() is window.findings
    assert window.findings.view.audit_id == audit_id and window.findings.checks.count() > 0


def test_cancel_a_running_audit(make_window, qtbot, tmp_path, tiny_bert):
    db = tmp_path / "cancel.db"
    window = make_window(db)
    window.show_page("new")
    page = window.new_audit
    page.model_path.setText(str(tiny_bert))
    with qtbot.waitSignal(page.worker.progress, timeout=60000, check_params_cb=lambda f, m: "capture" in m):
        page.start()
    with qtbot.waitSignal(page.worker.cancelled, timeout=20000):
        page.cancel_button.click()
    assert page.run_button.isEnabled() and not page.cancel_button.isEnabled()
    assert page.step.text() == window.state.tr("new.cancelled")
    rows = api.list_audits(str(db))
    assert all(r["status"] == "cancelled" for r in rows), rows
    qtbot.waitUntil(lambda: window.library.table.rowCount() == len(rows), timeout=5000)


def test_a_pickle_model_is_refused_with_a_clear_dialog(make_window, qtbot, tmp_path, dialogs):
    import pickle

    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "config.json").write_text('{"model_type": "bert"}')
    (hostile / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    window = make_window(tmp_path / "hostile.db")
    window.show_page("new")
    page = window.new_audit
    page.set_model(str(hostile))
    info = _wait_preview(qtbot, page)
    assert "pickle" in (info.get("problem") or "").lower()
    assert page.info["problem"].text()
    with qtbot.waitSignal(page.worker.failed, timeout=60000) as failed:
        page.start()
    assert failed.args[0].kind == "pickle"
    kind, title, text = dialogs[-1]
    assert kind == "critical" and title == window.state.tr("err.title")
    assert "pickle" in text.lower() and "safetensors" in text
    # the app stays usable: the form is enabled again (Run stays off while the preview shows the problem)
    assert not page.run_button.isEnabled() and "pickle" in page.run_button.toolTip() and page.model_box.isEnabled()
    window.show_page("library")
    window.library.refresh()
    assert window.stack.currentWidget() is window.library


def test_a_crashing_worker_is_a_dialog_and_the_window_survives(make_window, qtbot, tmp_path, dialogs):
    fake = tmp_path / "crashing-python"
    fake.write_text("#!/bin/sh\nkill -9 $$\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    window = make_window(tmp_path / "crash.db")
    window.show_page("new")
    page = window.new_audit
    page.worker.python = str(fake)
    page.model_path.setText(str(tmp_path))
    with qtbot.waitSignal(page.worker.failed, timeout=20000) as failed:
        page.start()
    assert failed.args[0].kind == "crash"
    assert dialogs[-1][0] == "critical" and "crashed" in dialogs[-1][2]
    assert page.run_button.isEnabled()
    page.worker.python = sys.executable
    assert os.path.exists(page.worker.python)


@pytest.mark.parametrize("code, crashed, message, kind", [
    (2, False, "model.pt is a pickle file; pickle can run code when loaded, so it is refused.", "pickle"),
    (2, False, "no such file or folder", "bad_input"),
    (3, False, "audit X ran out of memory; try --limit or a smaller --batch-size", "oom"),
    (3, False, "audit X failed: ValueError: bad", "failed"),
    (None, True, "", "crash"),
    (137, False, "", "crash"),
])
def test_worker_errors_are_sorted_into_plain_kinds(code, crashed, message, kind):
    from gui.worker import classify

    assert classify(code, crashed, message).kind == kind


def test_a_missing_model_is_bad_input_and_the_form_can_be_fixed(make_window, qtbot, tmp_path, dialogs):
    window = make_window(tmp_path / "missing.db")
    page = window.new_audit
    page.model_path.setText(str(tmp_path / "no-such-model"))
    with qtbot.waitSignal(page.worker.failed, timeout=30000) as failed:
        page.start()
    assert failed.args[0].kind == "bad_input" and failed.args[0].exit_code == 2
    assert dialogs[-1][0] == "critical" and "no-such-model" in dialogs[-1][2]
    assert page.run_button.isEnabled() and page.model_path.isEnabled()
