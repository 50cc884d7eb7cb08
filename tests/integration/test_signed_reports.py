"""Signed PDF reports (issue 16): `auditor report --sign` makes a PAdES signature that poppler's pdfsig and
`auditor verify-report` accept, that neither accepts after one byte inside the signed range changes, with
a visible block naming the signer on the decision page. A real audit of a tiny BERT, real identities."""
from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import run_cli

PASS = "correct horse battery"
needs_poppler = pytest.mark.skipif(not (shutil.which("pdfsig") and shutil.which("pdftotext")),
                                   reason="poppler's pdfsig/pdftotext are not installed")


def _ca(name: str, passphrase: bytes) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(passphrase))
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


@pytest.fixture(scope="module")
def setup(tiny_bert, tmp_path_factory):
    """A completed quick audit of a tiny BERT (12 probes) and two identities: a self-signed approver and
    a reviewer issued by an organisation CA."""
    from auditor import api
    from auditor.identity import create_identity
    from tests.fixtures.templates import no_minimum

    root = tmp_path_factory.mktemp("signed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_IDENTITY_DIR", str(root / "ids"))
        db = root / "audits.db"
        audit_id = api.run_audit(api.AuditRequest(model=str(tiny_bert), probes="builtin:text", limit=12, db=str(db),
                                                  device="cpu", template=no_minimum("quick")))
        approver = create_identity("A. Tanaka", "approver", "ACME", passphrase=PASS)
        ca_cert, ca_key = _ca("ACME Root CA", b"ca secret pass")
        reviewer = create_identity("B. Suzuki", "reviewer", "ACME", passphrase=PASS, ca_cert_pem=ca_cert,
                                   ca_key_pem=ca_key, ca_passphrase="ca secret pass")
    return {"root": root, "db": db, "id": audit_id, "approver": approver, "reviewer": reviewer}


@pytest.fixture
def env(setup, monkeypatch):
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(setup["root"] / "ids"))
    monkeypatch.setenv("AUDITOR_PASSPHRASE", PASS)
    return setup


def _report(env: dict, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("report", env["id"], "--out", str(out), "--db", str(env["db"]), *extra)


def _pdfsig(pdf: Path) -> str:
    return subprocess.run(["pdfsig", "-nocert", str(pdf)], capture_output=True, text=True).stdout


def _page_text(pdf: Path, page: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True).stdout


def _flip_inside_signed_range(pdf: Path, out: Path, marker: bytes) -> int:
    """Change the byte after `marker`'s last occurrence (the revision a reader shows), checked to lie inside the /ByteRange (not in the
    signature's /Contents); returns the offset."""
    data = bytearray(pdf.read_bytes())
    a, la, b, lb = map(int, re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data).groups())
    offset = data.rindex(marker) + len(marker)
    assert a <= offset < a + la or b <= offset < b + lb, "the byte is not in the signed range"
    assert b + lb == len(data)                       # the range runs to the end of the file
    data[offset] = ord("7") if data[offset] != ord("7") else ord("8")
    out.write_bytes(bytes(data))
    return offset


@needs_poppler
def test_a_signed_board_report_is_valid_for_pdfsig_and_verify_report(env, tmp_path):
    pdf = tmp_path / "board.pdf"
    made = _report(env, pdf, "--kind", "board", "--sign", "A. Tanaka")
    assert made.returncode == 0, made.stderr
    fpr = env["approver"].fingerprint
    assert "Signed:      A. Tanaka (approver) at " in made.stdout and fpr in made.stdout
    sig = _pdfsig(pdf)
    assert "Signature is Valid." in sig and "Total document signed" in sig and "ETSI.CAdES.detached" in sig
    assert "title=approver,O=ACME,CN=A. Tanaka" in sig
    page = _page_text(pdf, 1)                         # the board's decision box carries the visible block
    assert "Digitally signed (PAdES)" in page and "Signed by: A. Tanaka, Approver, ACME" in page and fpr in page
    checked = run_cli("verify-report", str(pdf), "--db", str(env["db"]))
    assert checked.returncode == 0, checked.stdout
    assert ("SIGNED    signed by A. Tanaka, role approver, at " in checked.stdout
            and "OK        the PDF signature is intact and covers the whole file" in checked.stdout
            and "OK        the audit's history records this report as signed by the same certificate" in checked.stdout
            and "NOTE      the certificate is self-signed" in checked.stdout)
    raw = pdf.read_bytes()
    assert b"PRIVATE KEY" not in raw and PASS.encode() not in raw
    with sqlite3.connect(env["db"]) as conn:          # the event records the signed file and its signer
        rows = conn.execute("SELECT detail_json, signer FROM events WHERE kind = 'reported'").fetchall()
    import hashlib
    import json

    digest = hashlib.sha256(raw).hexdigest()
    detail, signer = next((json.loads(d), s) for d, s in rows if json.loads(d)["pdf_sha256"] == digest)
    assert detail["signed_by"] == {"name": "A. Tanaka", "role": "approver", "fingerprint": fpr} and signer == fpr


@needs_poppler
def test_one_byte_changed_inside_the_signed_range_is_not_valid(env, tmp_path):
    pdf, edited = tmp_path / "board.pdf", tmp_path / "edited.pdf"
    assert _report(env, pdf, "--kind", "board", "--sign", "A. Tanaka").returncode == 0
    _flip_inside_signed_range(pdf, edited, rb"/AuditorReportId (R\055")     # a digit of the report ID
    assert "Signature is Valid." not in _pdfsig(edited)
    assert "Digest Mismatch" in _pdfsig(edited)
    checked = run_cli("verify-report", str(edited))
    assert checked.returncode == 1
    assert "MISMATCH  the PDF signature does not match the file: it was changed after it was signed" in checked.stdout
    assert "everything matches" not in checked.stdout
    assert run_cli("verify-report", str(pdf)).returncode == 0          # the untouched file still verifies


@needs_poppler
def test_a_full_report_signed_by_a_ca_issued_identity_shows_the_block_on_the_sign_off_page(env, tmp_path):
    pdf = tmp_path / "full-ja.pdf"
    made = _report(env, pdf, "--kind", "full", "--lang", "ja", "--sign", "B. Suzuki")
    assert made.returncode == 0, made.stderr
    sig = _pdfsig(pdf)
    assert "Signature is Valid." in sig and "B. Suzuki" in sig
    pages = int(re.search(r"(\d+) page\(s\)", made.stdout).group(1))
    last = _page_text(pdf, pages)                      # section 13, sign-off, is the last page
    assert "電子署名（PAdES）" in last and "署名者：B. Suzuki（審査者、ACME）" in last
    assert env["reviewer"].fingerprint in last
    checked = run_cli("verify-report", str(pdf), "--db", str(env["db"]))
    assert checked.returncode == 0, checked.stdout
    assert "OK        the certificate was issued by CN=ACME Root CA, whose certificate is embedded" in checked.stdout
    assert "role reviewer" in checked.stdout
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout.splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts)   # the widget adds no unembedded font


def test_refusals_are_one_line_and_leave_no_file(env, tmp_path, monkeypatch):
    out = tmp_path / "x.pdf"
    monkeypatch.setenv("AUDITOR_PASSPHRASE", "not the passphrase")
    wrong = _report(env, out, "--sign", "A. Tanaka")
    assert (wrong.returncode, wrong.stderr) == (2, "auditor: wrong passphrase for A. Tanaka\n")
    monkeypatch.setenv("AUDITOR_PASSPHRASE", PASS)
    unknown = _report(env, out, "--sign", "Nobody")
    assert unknown.returncode == 2 and len(unknown.stderr.splitlines()) == 1 and "identity list" in unknown.stderr
    draft = _report(env, out, "--sign", "A. Tanaka", "--draft")
    assert draft.returncode == 2 and "a draft is never signed" in draft.stderr
    assert not out.exists() and not list(tmp_path.glob(".*part"))


def test_an_unsigned_report_still_verifies_and_says_not_signed(env, tmp_path):
    pdf = tmp_path / "plain.pdf"
    assert _report(env, pdf, "--kind", "board").returncode == 0
    checked = run_cli("verify-report", str(pdf), "--db", str(env["db"]))
    assert checked.returncode == 0, checked.stdout
    assert "NOTE      not signed: this report carries no PDF signature" in checked.stdout
    assert "SIGNED" not in checked.stdout
