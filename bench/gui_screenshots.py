"""Screenshots of every page of the desktop client in every state, to look at before a release (not a test).

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m bench.gui_screenshots --out DIR
        [--db DB] [--minilm] [--model PATH] [--langs en,ja] [--pdf] [--scale2]
    (--pdf: the Export page with its board-report preview built, for completed and inconclusive audits)

Without --db it builds its audits in DIR/work: two quick audits of a tiny BERT with 12 probes (the quick
template without its probe minimum: the verdict is inconclusive, too few probes for the rules' intervals;
versions 1 and 2, so Compare has a pair), a cancelled and a failed run (stored through the store as the
worker leaves them), with --minilm also a quick audit of the bundled MiniLM (96 probes, the quick template's
minimum: a decided verdict), and an empty database. With --db it shows that database as it is.

Writes DIR/<width>x<height>-<lang>-<state>-<page>.png at 1366x768 and 1920x1080: state `empty` (every page
on the empty database), `none` (library, new audit and compare with no audit open), and each audit state
found (`completed`, `inconclusive`, `cancelled`, `failed`) on the pages that show one audit (findings,
sign-off, export; findings also with three checks selected). --scale2 adds the same at 200 % scaling
(QT_SCALE_FACTOR=2 in a child process; 1920x1080 physical is 960x540 logical). DIR/index.txt lists them all.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = ((1366, 768), (1920, 1080))
AUDIT_PAGES = ("findings", "signoff", "export")
CHECKS = ("flow.pde", "attention.structure", "bottleneck.information_plane")


def _settle(app, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def _cli(db: Path, *args: str) -> dict:
    env = dict(os.environ, AUDITOR_DB=str(db))
    result = subprocess.run([sys.executable, "-m", "auditor.cli", *args, "--json"], capture_output=True, text=True,
                            env=env, timeout=1800)
    if result.returncode not in (0, 1):
        raise SystemExit(f"auditor {' '.join(args[:2])} failed: {result.stderr.strip()[-400:]}")
    return json.loads(result.stdout)


def build(work: Path, minilm: bool) -> tuple[Path, Path]:
    """(audits database, empty database) in `work`, as the module docstring describes."""
    from auditor import api
    from auditor.store import open_db, records
    from tests.fixtures.stored import make_audit
    from tests.fixtures.templates import no_minimum
    from tests.fixtures.torch_models import make_tiny_bert

    work.mkdir(parents=True, exist_ok=True)
    db, empty = work / "audits.db", work / "empty.db"
    if not db.exists():
        bert = make_tiny_bert(work / "tiny-bert")
        for version in ("1", "2"):
            _cli(db, "audit", str(bert), "--template", no_minimum("quick"), "--limit", "12", "--seed", version,
                 "--name", "tiny-bert", "--model-version", version)
        if minilm:
            _cli(db, "audit", str(api.demo_model_path()), "--template", "quick", "--limit", "96",
                 "--name", "all-MiniLM-L6-v2", "--model-version", "1")
        for status, error in (("cancelled", "cancelled by the user"),
                              ("failed", "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB")):
            audit_id = make_audit(db, complete=False)
            handle = open_db(db)
            records.fail_audit(handle, audit_id, error, status=status)
            handle.conn.close()
    if not empty.exists():
        api.create_database(str(empty))
    return db, empty


def states(db: Path) -> dict[str, str]:
    """One audit id per state the database holds: completed (a decided verdict), inconclusive, cancelled, failed."""
    from auditor import api

    found: dict[str, str] = {}
    for audit in api.list_audits(str(db)):      # newest first
        status = audit["status"]
        state = ("inconclusive" if audit.get("verdict") == "inconclusive" else "completed") \
            if status == "completed" else status
        found.setdefault(state, audit["audit_id"])
    return found


def _save(window, out: Path, name: str, index: list[str]) -> None:
    window.grab().save(str(out / name))
    index.append(name)


def shoot(app, db: Path, empty: Path, out: Path, langs: list[str], sizes, model: str | None,
          pdf: bool = False) -> list[str]:
    from gui.app import create_window
    from gui.main_window import PAGES
    from gui.settings import Settings

    index: list[str] = []
    settings = Settings(str(Path(tempfile.mkdtemp()) / "settings.ini"))
    for label, path in (("empty", empty), ("audits", db)):
        window = create_window(str(path), settings)
        window.show()
        _settle(app, 1.0)                                    # the pages build in idle time
        if model and label == "audits":
            window.new_audit.set_model(model)
        found = states(path) if label == "audits" else {}
        for lang in langs:
            window.set_language(lang)
            for width, height in sizes:
                window.resize(width, height)
                _settle(app)
                prefix = f"{width}x{height}-{lang}"
                window.state.open_audit("")
                window.show_page("library")
                for name in PAGES if label == "empty" else ("library", "new", "compare"):
                    window.show_page(name)
                    _settle(app, 0.2)
                    _save(window, out, f"{prefix}-{'empty' if label == 'empty' else 'none'}-{name}.png", index)
                for state, audit_id in found.items():
                    _audit_pages(app, window, out, prefix, state, audit_id, index, pdf)
        window.close()
        _settle(app, 0.2)
    return index


def _audit_pages(app, window, out: Path, prefix: str, state: str, audit_id: str, index: list[str],
                 pdf: bool) -> None:
    window.state.open_audit(audit_id)
    _settle(app, 0.5)
    for name in AUDIT_PAGES:
        window.show_page(name)
        _settle(app, 0.3)
        if name == "export" and pdf and state in ("completed", "inconclusive"):
            window.export.build_preview()
            for _ in range(600):
                _settle(app, 0.1)
                if not window.export.building:
                    break
        _save(window, out, f"{prefix}-{state}-{name}.png", index)
    if state in ("completed", "inconclusive") and hasattr(window.findings, "select_check"):
        window.show_page("findings")
        for check in CHECKS:
            try:
                window.findings.select_check(check)
            except (KeyError, ValueError, IndexError):
                continue
            _settle(app, 0.2)
            _save(window, out, f"{prefix}-{state}-findings-{check}.png", index)
    if state == "completed":
        window.show_page("compare")
        _settle(app, 0.3)
        _save(window, out, f"{prefix}-{state}-compare.png", index)


def _running(app, window_db: Path, model: str, out: Path, index: list[str]) -> None:
    """The New audit page while an audit runs, and after Cancel (English, 1366x768)."""
    from gui.app import create_window
    from gui.settings import Settings

    window = create_window(str(window_db), Settings(str(Path(tempfile.mkdtemp()) / "s.ini")))
    window.show()
    window.resize(*SIZES[0])
    window.show_page("new")
    page = window.new_audit
    page.set_model(model)
    seen: list[float] = []
    page.worker.progress.connect(lambda f, *_m: seen.append(f))
    page.start()
    for _ in range(600):
        _settle(app, 0.05)
        if (seen and seen[-1] >= 0.3) or not page.worker.running():
            break
    _save(window, out, "1366x768-en-running-new.png", index)
    page.cancel()
    _settle(app, 0.3)
    _save(window, out, "1366x768-en-cancelling-new.png", index)
    for _ in range(200):
        _settle(app, 0.05)
        if not page.worker.running():
            break
    _settle(app, 0.3)
    _save(window, out, "1366x768-en-cancelled-new.png", index)
    window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--db", help="show this database as it is (default: build the audits in OUT/work)")
    parser.add_argument("--minilm", action="store_true", help="also audit the bundled MiniLM (a decided verdict)")
    parser.add_argument("--model", help="a model to preview on the New audit page (and run, then cancel)")
    parser.add_argument("--langs", default="en,ja")
    parser.add_argument("--scale2", action="store_true", help="also 200 %% scaling (QT_SCALE_FACTOR=2)")
    parser.add_argument("--pdf", action="store_true", help="build the board PDF preview on the Export page")
    parser.add_argument("--scaled", action="store_true", help=argparse.SUPPRESS)   # the 200 % child
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.db:
        from auditor import api

        db, empty = Path(args.db), out / "work" / "empty.db"
        empty.parent.mkdir(parents=True, exist_ok=True)
        if not empty.exists():
            api.create_database(str(empty))
    else:
        db, empty = build(out / "work", args.minilm)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    # under QT_SCALE_FACTOR=2 a 960x540 window fills 1920x1080 physical pixels
    sizes = ((960, 540),) if args.scaled else SIZES
    index = shoot(app, db, empty, out, args.langs.split(","), sizes, args.model, args.pdf)
    if args.model and not args.scaled:
        _running(app, db, args.model, out, index)
    if args.scale2 and not args.scaled:
        child = [sys.executable, "-m", "bench.gui_screenshots", "--out", str(out / "scale200"), "--db", str(db),
                 "--langs", args.langs, "--scaled"]
        subprocess.run(child, check=True, env=dict(os.environ, QT_SCALE_FACTOR="2"))
    (out / "index.txt").write_text("\n".join(index) + "\n", encoding="utf-8")
    print(f"{len(index)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
