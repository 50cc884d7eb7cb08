"""Start-up, the audit library, settings: the real widgets offscreen."""
import subprocess
import sys

from PySide6.QtCore import Qt

CHECK_NO_RUNTIMES = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
import gui.app
from gui.settings import Settings
window = gui.app.create_window(sys.argv[1], Settings(sys.argv[2]))
window.show()
app.processEvents()
import time
def preview(path):
    window.new_audit.set_model(path)   # format, size, hash: read in a child process, never in this one
    for _ in range(1500):
        app.processEvents()
        if window.new_audit.model_info is not None:
            return window.new_audit.model_info
        time.sleep(0.02)
info = preview(sys.argv[3])
assert info["format"] == "transformers" and len(info["sha256"]) == 64, info
info = preview(sys.argv[4])       # an .onnx file makes the engine parse it with the onnx package
assert info["problem"] and "onnx" in info["problem"].lower(), info
heavy = {"torch", "transformers", "onnxruntime", "onnx", "reportlab"} & set(sys.modules)
assert not heavy, heavy
"""


def test_gui_and_main_window_do_not_load_the_model_runtimes(tmp_path, tiny_bert):
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "", "HOME": str(tmp_path)}
    fake_onnx = tmp_path / "broken.onnx"
    fake_onnx.write_bytes(b"not really an onnx graph" * 10)
    subprocess.run([sys.executable, "-c", CHECK_NO_RUNTIMES, str(tmp_path / "x.db"), str(tmp_path / "s.ini"),
                    str(tiny_bert), str(fake_onnx)], check=True, env=env, timeout=120)


def test_library_lists_searches_filters_and_opens(make_window, two_audits):
    window = make_window(two_audits["db"])
    lib = window.library
    assert lib.table.rowCount() == 2
    assert {lib.table.item(r, 1).text() for r in range(2)} == {"tiny-bert"}
    lib.search.setText(two_audits["ids"][0])
    assert lib.table.rowCount() == 1
    lib.search.setText("no such model")
    assert lib.table.rowCount() == 0 and "0 of 2" in lib.status.text()
    lib.search.clear()
    verdict = lib.audits[0]["verdict"]
    lib.verdict.setCurrentIndex(lib.verdict.findData(verdict))
    assert lib.table.rowCount() >= 1
    lib.verdict.setCurrentIndex(0)
    lib.table.selectRow(0)
    lib.open_selected()
    assert window.stack.currentWidget() is window.findings
    assert window.findings.view.audit_id == lib.table.item(0, 0).data(Qt.ItemDataRole.UserRole)


def test_empty_library_says_what_to_do(make_window):
    window = make_window()
    assert window.library.table.rowCount() == 0 and "New audit" in window.library.status.text()


def test_settings_persist_language_database_and_folders(make_window, tmp_path, two_audits):
    from gui.settings import Settings

    ini = tmp_path / "persist.ini"
    window = make_window(two_audits["db"], ini)
    window.set_language("ja")
    window.state.set_db(two_audits["db"])
    window.new_audit.set_probe_file(str(tmp_path / "probes.csv"))
    again = Settings(str(ini))
    assert again.language == "ja" and again.db == two_audits["db"]
    assert again.folder("probes") == str(tmp_path)
    second = make_window(None, ini)
    assert second.state.lang == "ja" and second.nav.item(0).text() == "監査一覧"


LONG_SESSION = """
import sys
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication
app = QApplication([])
import gui.app
from gui.settings import Settings
window = gui.app.create_window(sys.argv[1], Settings(sys.argv[2]))
class Source(QObject):
    ping = Signal(float, str)
source = Source()
source.ping.connect(lambda f, m: None)
ticks = []
timer = QTimer()
timer.timeout.connect(lambda: ticks.append(1))
timer.start(0)
for _ in range(30000):            # tens of thousands of slot calls and emits, as in a long audit
    source.ping.emit(0.5, "step")
    app.processEvents()
timer.stop()
assert len(ticks) > 10000
"""


def test_a_long_session_of_slot_calls_does_not_abort_the_process(tmp_path):
    # PySide6 6.12.0 on Python 3.11 drops a reference to None per slot call; gui.qtfix covers it
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", LONG_SESSION, str(tmp_path / "x.db"), str(tmp_path / "s.ini")],
                          env=env, timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
