"""Reports for other model kinds: a vision transformer (image probes) and an ONNX export (no gradients)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum


def _audit(model: Path, probes: str, db: Path) -> str:
    result = run_cli("audit", str(model), "--probes", probes, "--limit", "60", "--json", "--progress", "none",
                     "--template", no_minimum(), db=db)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["audit_id"]


@pytest.mark.parametrize("kind", ["vit", "onnx"])
def test_reports_render_and_verify_for_other_model_kinds(kind, tiny_vit, minilm_folder, tmp_path):
    from pypdf import PdfReader

    model, probes = (tiny_vit, "builtin:images") if kind == "vit" else (minilm_folder, "builtin:text")
    db = tmp_path / "audits.db"
    audit_id = _audit(model, probes, db)
    for report_kind in ("board", "full"):
        for lang in ("en", "ja"):
            pdf = tmp_path / f"{report_kind}-{lang}.pdf"
            made = run_cli("report", audit_id, "--out", str(pdf), "--kind", report_kind, "--lang", lang, db=db)
            assert made.returncode == 0, made.stderr
            pages = PdfReader(str(pdf)).pages
            assert len(pages) == 1 if report_kind == "board" else len(pages) >= 8
            checked = run_cli("verify-report", str(pdf), "--db", str(db))
            assert checked.returncode == 0, checked.stdout
    text = "".join(p.extract_text() or "" for p in PdfReader(str(tmp_path / "full-en.pdf")).pages)
    if kind == "onnx":   # checks that cannot run on ONNX say so instead of inventing figures
        assert "gradients" in text.lower() and "skipped" in text.lower()
