"""Time a full PDF report for a 12-layer model (the issue asks for a few seconds on the CPU).

The 12-layer results are synthetic: a stored MiniLM (6-layer) audit is copied and every per-layer
figure is extended to 12 layers, which gives the report a 12-layer model's charts, tables and pages.

    python -m bench.bench_report [--db PATH --audit ID] [--repeat 3]

Without --db it runs one MiniLM audit (about 30 s on 2 CPU cores) into a temporary folder first.
"""
from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path


def _source(args: argparse.Namespace, folder: Path) -> tuple[Path, str]:
    if args.db:
        return Path(args.db), args.audit
    from auditor import api

    db = folder / "minilm.db"
    audit_id = api.run_audit(api.AuditRequest(model=str(api.demo_model_path()), db=str(db), device="cpu"))
    return db, audit_id


def make_twelve_layers(src: Path, dst: Path, audit_id: str) -> None:
    """Copy the database and double every per-layer metric: states 0..L become 0..2L, steps 0..L-1 become 0..2L-1."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    with sqlite3.connect(dst) as conn:
        layers = conn.execute("SELECT max(layer) FROM metrics WHERE audit_id = ?", [audit_id]).fetchone()[0] or 0
        groups = conn.execute("""SELECT check_id, name, coalesce(variant, ''), max(layer) FROM metrics
                                 WHERE audit_id = ? AND layer IS NOT NULL GROUP BY 1, 2, 3""", [audit_id]).fetchall()
        for check_id, name, variant, top in groups:
            first = 1 if top == layers else 0     # a per-state list repeats 1..L, a per-step list 0..L-1
            conn.execute("""INSERT INTO metrics (audit_id, check_id, name, layer, head, variant, value)
                            SELECT audit_id, check_id, name, layer + ?, head, variant, value FROM metrics
                            WHERE audit_id = ? AND check_id = ? AND name = ? AND coalesce(variant, '') = ?
                            AND layer >= ?""", [layers, audit_id, check_id, name, variant, first])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db")
    parser.add_argument("--audit")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if bool(args.db) != bool(args.audit):
        parser.error("--db and --audit go together")
    from reports.commands import build_report, page_count

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src, audit_id = _source(args, folder)
        db = folder / "twelve.db"
        make_twelve_layers(src, db, audit_id)
        for lang in ("en", "ja"):
            times = []
            for i in range(args.repeat):
                out = folder / f"full-{lang}-{i}.pdf"
                began = time.perf_counter()
                build_report(audit_id, out, kind="full", lang=lang, db=str(db))
                times.append(time.perf_counter() - began)
            print(f"full report, 12 layers, {lang}: best {min(times):.2f} s of {args.repeat} "
                  f"({page_count(out)} pages, {out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
