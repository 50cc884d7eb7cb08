"""The audit library window on a real database, offscreen."""
import subprocess
import sys

from tests.conftest import run_cli


def test_gui_import_does_not_load_the_model_runtimes():
    code = ("import sys, gui.app; heavy = {'torch', 'transformers', 'onnxruntime', 'onnx'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})


def test_library_lists_audits_and_shows_one(qtbot, tmp_path, tiny_bert):
    from gui.app import LibraryWindow

    db = tmp_path / "gui.db"
    assert run_cli("audit", str(tiny_bert), "--limit", "12", "--name", "tiny-bert", db=db).returncode == 0
    window = LibraryWindow(str(db))
    qtbot.addWidget(window)
    assert window.table.rowCount() == 1
    assert window.table.item(0, 1).text() == "tiny-bert"
    window.table.selectRow(0)
    assert "flow.representation" in window.detail.toPlainText()


def test_empty_library_says_what_to_do(qtbot, tmp_path):
    from gui.app import LibraryWindow

    window = LibraryWindow(str(tmp_path / "empty.db"))
    qtbot.addWidget(window)
    assert window.table.rowCount() == 0 and "auditor demo" in window.status.text()
