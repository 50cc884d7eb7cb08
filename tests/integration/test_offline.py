"""The offline guarantee, measured: each run has the network cut (`unshare -n`), every connect()
traced (`strace -f`), a fresh HOME, and the offline variables removed from its environment, so the
product must set them itself (auditor/offline.py). A run fails on any AF_INET/AF_INET6 connect to a
non-loopback address and on any file it creates under HOME outside our data folder.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PYTHON = sys.executable
DATA = Path(".local/share/transformer-auditor")      # platformdirs user_data_dir on Linux, XDG unset
# removed from the environment: the offline switches, the cache locations, the XDG folders
STRIP_PREFIXES = ("HF_", "TRANSFORMERS_", "ORT_", "XDG_", "TORCH", "MPL", "TRITON_", "CUDA_CACHE")
STRIP = {"DO_NOT_TRACK", "TOKENIZERS_PARALLELISM", "AUDITOR_DB"}
HOLD_S = 15     # onnxruntime's Linux telemetry starts about 10 s into the process (measured)
QUICK = ("--template", "quick", "--limit", "96", "--progress", "none", "--json")   # quick's min_probes
CONNECT = re.compile(r"sa_family=AF_INET6?\b")
LOOPBACK = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "(::1|::ffff:127\.)')

# The CLI entry point, then the process stays alive until HOLD_S have passed since it started: an
# audit that ends early on a fast machine still lives past the moment telemetry would fire.
HOLD = f"""
import sys, time
start = time.monotonic()
from auditor.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
time.sleep(max(0.0, {HOLD_S} - (time.monotonic() - start)))
raise SystemExit(code)
"""

# The GUI as `auditor-gui` starts it; after a second the language is switched (a settings write),
# after three it quits.
GUI = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import gui.app
from gui.main_window import MainWindow
app = QApplication([sys.argv[0]])
def switch():
    [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)][0].set_language("ja")
QTimer.singleShot(1000, switch)
QTimer.singleShot(3000, app.quit)
raise SystemExit(gui.app.main([]))
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A fresh HOME shared by the runs below (the report reads the audit stored by an earlier run)."""
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed: `make setup` installs it (or: apt-get install strace)")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here (needs root): {probe.stderr.strip()}")
    path = tmp_path_factory.mktemp("offline") / "home"
    path.mkdir()
    return path


def _files(home: Path) -> set[str]:
    return {p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file() or p.is_symlink()}


def run_offline(home: Path, *command: str, extra_env: dict[str, str] | None = None) -> tuple[str, str]:
    """Runs `command` cut off and traced; asserts no outside connect and no stray file; returns (stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIP_PREFIXES) and k not in STRIP}
    env.update(HOME=str(home), **(extra_env or {}))
    log = home.parent / "connect.log"
    before = _files(home)
    result = subprocess.run(["unshare", "-n", "strace", "-f", "-qq", "-e", "trace=connect", "-o", str(log),
                             *command], capture_output=True, text=True, env=env, cwd=home.parent, timeout=600)
    assert result.returncode in (0, 1), result.stderr[-3000:]      # 1: a --fail-on verdict, still completed
    trace = log.read_text(errors="replace").splitlines()
    outside = [line for line in trace if CONNECT.search(line) and not LOOPBACK.search(line)]
    assert not outside, f"{len(outside)} connect() call(s) to outside addresses:\n" + "\n".join(outside[:5])
    stray = sorted(f for f in _files(home) - before if not f.startswith(f"{DATA.as_posix()}/"))
    assert not stray, "files written under HOME outside the app's data folder:\n" + "\n".join(stray[:10])
    return result.stdout, result.stderr


@pytest.fixture(scope="module")
def onnx_text_model(tmp_path_factory) -> Path:
    from tests.fixtures import onnx_models as om

    return om.export_tiny_bert(tmp_path_factory.mktemp("onnx-offline"))


def test_onnx_audit_past_the_telemetry_mark_opens_no_connection(home, onnx_text_model):
    out, _ = run_offline(home, PYTHON, "-c", HOLD, "audit", str(onnx_text_model),
                         "--tokenizer", str(onnx_text_model.parent), *QUICK)
    assert json.loads(out)["status"] == "completed"
    assert (home / DATA / "audits.db").is_file()      # the default database, inside our data folder


def test_transformers_audit_and_report_open_no_connection(home, tiny_bert, tmp_path):
    auditor = str(Path(PYTHON).parent / "auditor")
    out, _ = run_offline(home, auditor, "audit", str(tiny_bert), *QUICK)
    audit_id = json.loads(out)["audit_id"]
    pdf = tmp_path / "report.pdf"
    run_offline(home, auditor, "report", audit_id, "--kind", "full", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")


def test_gui_start_opens_no_connection_and_keeps_settings_in_data_folder(home):
    run_offline(home, PYTHON, "-c", GUI, extra_env={"QT_QPA_PLATFORM": "offscreen"})
    # the language switch was written, inside our folder (not ~/.config)
    assert list((home / DATA).rglob("auditor-gui.conf"))


def test_offline_switches_are_forced_over_the_callers_environment():
    """A shell that says HF_HUB_OFFLINE=0 or ORT_DISABLE_TELEMETRY=0 does not turn the network back on."""
    names = ("ORT_DISABLE_TELEMETRY", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")
    env = dict(os.environ, **dict.fromkeys(names, "0"))
    result = subprocess.run([PYTHON, "-c", "import os, sys, auditor; print([os.environ[n] for n in sys.argv[1:]])",
                             *names], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(["1"] * len(names))
