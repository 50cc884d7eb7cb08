"""Screenshots of every page of the desktop client, for looking at before a release (not a test).

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m bench.gui_screenshots --db DB --out DIR [--model PATH]

Writes DIR/<size>-<lang>-<page>.png at 1366x768 and 1920x1080 (and a Japanese set).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

SIZES = ((1366, 768), (1920, 1080))


def _settle(app: QApplication, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", help="a model to preview on the New audit page")
    parser.add_argument("--langs", default="en,ja")
    parser.add_argument("--pdf", action="store_true", help="build a board PDF preview on the Export page")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from gui.app import create_window
    from gui.settings import Settings

    settings = Settings(str(Path(tempfile.mkdtemp()) / "settings.ini"))
    window = create_window(args.db, settings)
    window.show()
    from auditor import api

    completed = [a["audit_id"] for a in api.list_audits(args.db) if a["status"] == "completed"]
    window.state.open_audit(completed[0])
    if args.model:
        window.new_audit.set_model(args.model)
    window.compare.run()
    window.signoff.reload()
    if args.pdf:
        window.export.build_preview()
        for _ in range(600):
            _settle(app, 0.1)
            if not window.export.building:
                break
    for lang in args.langs.split(","):
        window.set_language(lang)
        for width, height in SIZES:
            window.resize(width, height)
            _settle(app)
            for name in ("library", "new", "findings", "compare", "signoff", "export"):
                window.show_page(name)
                _settle(app, 0.2)
                if name == "findings":
                    for check in ("flow.pde", "attention.structure", "bottleneck.information_plane"):
                        window.findings.select_check(check)
                        _settle(app, 0.2)
                        window.grab().save(str(out / f"{width}x{height}-{lang}-findings-{check}.png"))
                    continue
                window.grab().save(str(out / f"{width}x{height}-{lang}-{name}.png"))
    if args.model:   # the New audit page while an audit runs: progress bar and current step
        window.set_language("en")
        window.resize(*SIZES[0])
        window.show_page("new")
        page = window.new_audit
        seen: list[float] = []
        page.worker.progress.connect(lambda f, _m: seen.append(f))
        page.start()
        for _ in range(600):
            _settle(app, 0.05)
            if (seen and seen[-1] >= 0.3) or not page.worker.running():
                break
        window.grab().save(str(out / "1366x768-en-new-running.png"))
        page.cancel()
        for _ in range(200):
            _settle(app, 0.05)
            if not page.worker.running():
                break
        _settle(app, 0.2)
        window.grab().save(str(out / "1366x768-en-new-cancelled.png"))
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
