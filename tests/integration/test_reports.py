"""PDF reports from a real MiniLM audit and from failed/partial audits: pages, text, fonts, evidence, verify."""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from argparse import Namespace
from pathlib import Path

import pytest

from auditor.errors import BadInput
from reports.commands import build_report, cmd_report, cmd_verify_report, page_count, write_demo_reports
from reports.strings import text

LANGS = ("en", "ja")


def copy_db(src: Path, dst: Path) -> Path:
    """A consistent copy (WAL included) through SQLite's backup API."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    return dst


def pdf_text(pdf: Path) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(str(pdf)).pages]


def compact(s: str) -> str:
    return "".join(s.split())


@pytest.fixture(scope="module")
def audit(minilm_audit, tmp_path_factory) -> dict:
    db = copy_db(minilm_audit["db"], tmp_path_factory.mktemp("reports") / "audits.db")
    return {"db": str(db), "id": minilm_audit["json"]["audit_id"], "json": minilm_audit["json"]}


@pytest.fixture(scope="module")
def pdfs(audit, tmp_path_factory) -> dict[tuple[str, str], Path]:
    out = tmp_path_factory.mktemp("pdfs")
    paths = write_demo_reports(audit["id"], out, audit["db"])
    assert len(paths) == 4
    return {(p.stem.split("-")[1], p.stem.split("-")[2]): p for p in paths}


@pytest.mark.parametrize("lang", LANGS)
def test_board_is_one_page_with_footer_and_fingerprint(pdfs, audit, lang):
    pdf = pdfs[("board", lang)]
    assert page_count(pdf) == 1
    page = compact(pdf_text(pdf)[0])
    fp = audit["json"]["fingerprint"]
    assert fp in page and compact(audit["json"]["model"]["name"]) in page
    t = text(lang)
    assert compact(t["classification"]) in page
    assert compact(t["footer"].split("·")[2].format(page=1, pages=1)) in page
    for dim in t["dimensions"].values():
        assert compact(dim) in page


@pytest.mark.parametrize("lang", LANGS)
def test_full_report_has_every_section_and_page_furniture(pdfs, audit, lang):
    pdf = pdfs[("full", lang)]
    pages = pdf_text(pdf)
    assert 8 <= len(pages) <= 30
    t = text(lang)
    joined = compact("".join(pages))
    for title in t["sections"]:
        assert compact(title) in joined, title
    model = audit["json"]["model"]
    assert model["sha256"] in joined and audit["json"]["fingerprint"] in joined
    for check in audit["json"]["checks"]:
        assert check["id"] in joined
    fp16 = audit["json"]["fingerprint"][:16]
    for number, page in enumerate(pages, start=1):
        page = compact(page)
        assert fp16 in page and compact(t["classification"]) in page
        assert compact(t["footer"].split("·")[2].format(page=number, pages=len(pages))) in page


@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils (pdffonts) not installed")
def test_every_font_is_embedded(pdfs):
    for pdf in pdfs.values():
        lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
        fonts = lines[2:]
        assert fonts, pdf
        for line in fonts:
            assert line.split()[-5] == "yes", f"{pdf.name}: not embedded: {line}"
        assert not any("Helvetica" in line for line in fonts)


def test_metadata_evidence_and_reported_event(pdfs, audit):
    from pypdf import PdfReader

    from auditor import api
    from auditor.store.fingerprint import fingerprint_of

    pdf = pdfs[("full", "en")]
    reader = PdfReader(str(pdf))
    meta = reader.metadata
    assert audit["json"]["model"]["name"] in meta.title and meta.author
    assert "reportlab" in meta.producer and meta.creation_date is not None
    embedded = reader.attachments["audit-evidence.json"][0]
    assert hashlib.sha256(embedded).hexdigest() == audit["json"]["fingerprint"]
    assert fingerprint_of(json.loads(embedded)) == audit["json"]["fingerprint"]
    events = [e for e in api.show_audit(audit["id"], audit["db"])["events"] if e["kind"] == "reported"]
    digests = {e["detail"]["pdf_sha256"] for e in events}
    for path in pdfs.values():
        assert hashlib.sha256(path.read_bytes()).hexdigest() in digests


def test_verify_passes_untouched_with_and_without_database(pdfs, audit, capsys):
    for pdf in pdfs.values():
        assert cmd_verify_report(Namespace(pdf=str(pdf), db=audit["db"])) == 0
        assert cmd_verify_report(Namespace(pdf=str(pdf), db=None)) == 0
    assert "everything matches" in capsys.readouterr().out


def test_verify_fails_after_a_stored_figure_changes(pdfs, audit, tmp_path, capsys):
    db = copy_db(Path(audit["db"]), tmp_path / "changed.db")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE metrics SET value = value + 0.5 WHERE rowid = (SELECT min(rowid) FROM metrics "
                     "WHERE audit_id = ? AND value IS NOT NULL)", [audit["id"]])
    assert cmd_verify_report(Namespace(pdf=str(pdfs[("board", "en")]), db=str(db))) == 1
    assert "changed since the report was made" in capsys.readouterr().out
    # the PDF alone still checks out: its evidence matches what it printed
    assert cmd_verify_report(Namespace(pdf=str(pdfs[("board", "en")]), db=None)) == 0


def test_a_later_reevaluation_does_not_invalidate_an_earlier_report(pdfs, audit, tmp_path, capsys):
    from auditor import api

    db = copy_db(Path(audit["db"]), tmp_path / "reevaluated.db")
    api.reevaluate(audit["id"], "eu-ai-act-high-risk", str(db))
    assert cmd_verify_report(Namespace(pdf=str(pdfs[("full", "en")]), db=str(db))) == 0
    out = capsys.readouterr().out
    assert "newer evaluation" in out and "everything matches" in out


def test_verify_without_database_detects_swapped_evidence(pdfs, tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(str(pdfs[("board", "en")])).pages:
        writer.add_page(page)
    original = PdfReader(str(pdfs[("board", "en")]))
    writer.add_metadata(dict(original.metadata))
    content = json.loads(original.attachments["audit-evidence.json"][0])
    content["checks"][0]["summary"] = "edited"
    writer.add_attachment("audit-evidence.json", json.dumps(content).encode())
    forged = tmp_path / "forged.pdf"
    with open(forged, "wb") as handle:
        writer.write(handle)
    assert cmd_verify_report(Namespace(pdf=str(forged), db=None)) == 1


def test_verify_refuses_bad_input(tmp_path, pdfs):
    not_pdf = tmp_path / "x.pdf"
    not_pdf.write_text("hello")
    for args in (Namespace(pdf=str(not_pdf), db=None), Namespace(pdf=str(tmp_path / "missing.pdf"), db=None),
                 Namespace(pdf=str(pdfs[("board", "en")]), db=str(tmp_path / "none.db"))):
        with pytest.raises(BadInput):
            cmd_verify_report(args)
    from reportlab.pdfgen.canvas import Canvas

    plain = tmp_path / "plain.pdf"
    Canvas(str(plain)).save()
    with pytest.raises(BadInput, match="no embedded audit evidence"):
        cmd_verify_report(Namespace(pdf=str(plain), db=None))


def test_report_command_prints_a_summary_and_refuses_bad_options(audit, tmp_path, capsys):
    out = tmp_path / "r.pdf"
    assert cmd_report(Namespace(audit_id=audit["id"], out=str(out), kind="board", lang="ja", db=audit["db"])) == 0
    assert "1 page(s)" in capsys.readouterr().out
    for kind, lang, name in (("poster", "en", "a.pdf"), ("full", "fr", "a.pdf"), ("full", "en", "a.txt")):
        with pytest.raises(BadInput):
            build_report(audit["id"], tmp_path / name, kind=kind, lang=lang, db=audit["db"])
    with pytest.raises(BadInput):
        build_report("no-such-audit", tmp_path / "b.pdf", db=audit["db"])


@pytest.fixture(scope="module")
def broken_db(audit, tmp_path_factory) -> str:
    """The MiniLM audit turned into a failed, partial one: a check errored, one never stored, no evaluation."""
    db = copy_db(Path(audit["db"]), tmp_path_factory.mktemp("broken") / "broken.db")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audits SET status = 'failed', error = 'RuntimeError: out of memory in flow.pde', "
                     "fingerprint = NULL, finished_at = NULL WHERE id = ?", [audit["id"]])
        conn.execute("UPDATE check_results SET outcome = 'error', summary = 'RuntimeError: boom' "
                     "WHERE audit_id = ? AND check_id = 'gradients.flow'", [audit["id"]])
        for table in ("metrics", "check_results"):
            conn.execute(f"DELETE FROM {table} WHERE audit_id = ? AND check_id IN ('flow.pde', 'attention.structure')",
                         [audit["id"]])
        conn.execute("DELETE FROM findings WHERE audit_id = ?", [audit["id"]])
        conn.execute("DELETE FROM evaluations WHERE audit_id = ?", [audit["id"]])
    return str(db)


@pytest.mark.parametrize("lang", LANGS)
def test_failed_partial_audit_renders_and_says_what_is_missing(broken_db, audit, tmp_path, lang):
    t = text(lang)
    board = build_report(audit["id"], tmp_path / "b.pdf", kind="board", lang=lang, db=broken_db, draft=True)
    full = build_report(audit["id"], tmp_path / "f.pdf", kind="full", lang=lang, db=broken_db, draft=True)
    assert page_count(board) == 1
    board_text = compact(pdf_text(board)[0])
    assert compact(t["status"]["failed"]) in board_text
    # the audit row still holds the verdict of its evaluation: a failed audit's board never shows it as a rating
    overall = board_text.split(compact(t["overall"]), 1)[1][:40]
    assert compact(t["verdict"]["pass"]) not in overall and compact(t["verdict"]["not_assessed"]) in overall, overall
    from auditor.presentation import presentation

    for missing in ("gradients.flow", "flow.pde", "attention.structure"):     # named by title, not by id
        assert compact(presentation(missing).title_in(lang)) in board_text
    full_text = compact("".join(pdf_text(full)))
    assert "outofmemory" in full_text and compact(t["verdict"]["error"]) in full_text
    for title in t["sections"]:
        assert compact(title) in full_text
    assert cmd_verify_report(Namespace(pdf=str(full), db=broken_db)) == 1   # a draft is never a final report
