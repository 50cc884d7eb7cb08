"""auditor.identity: keys, certificates, signatures, CA chains, the machine key and key safety, on real
files in a temporary identities folder (keys are made once per module: each costs ~0.2 s to seal)."""
from __future__ import annotations

import io
import os
import pickle
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from auditor.errors import BadInput
from auditor.identity import (
    IdentityError,
    certificate_facts,
    create_identity,
    identity_cert,
    issued_by,
    keyfile,
    list_identities,
    load_identity,
    machine,
    machine_signer,
    verify_signature,
)
from auditor.messages import render

PASS = "correct horse battery"


@pytest.fixture(scope="module")
def ids(tmp_path_factory):
    """An identities folder with a self-signed approver, a CA-issued reviewer and the CA that issued it."""
    folder = tmp_path_factory.mktemp("identity") / "ids"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_IDENTITY_DIR", str(folder))
        mp.delenv("AUDITOR_PASSPHRASE", raising=False)
        ca_cert, ca_key_pem = _make_ca("ACME Root CA", b"ca secret pass")
        approver = create_identity("A. Tanaka", "approver", "ACME", passphrase=PASS)
        reviewer = create_identity("B. Suzuki", "reviewer", "ACME", passphrase=PASS, ca_cert_pem=ca_cert,
                                   ca_key_pem=ca_key_pem, ca_passphrase="ca secret pass")
        yield {"folder": folder, "approver": approver, "reviewer": reviewer, "ca_cert": ca_cert,
               "ca_key": ca_key_pem}


@pytest.fixture
def env(ids, monkeypatch):
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(ids["folder"]))
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)
    monkeypatch.delenv("AUDITOR_CA_PASSPHRASE", raising=False)
    return ids


def _make_ca(name: str, passphrase: bytes | None, *, ca: bool = True) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
            .sign(key, hashes.SHA256()))
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def test_create_then_load_gives_the_same_identity_and_its_signature_verifies(env):
    made = env["approver"]
    loaded = load_identity("A. Tanaka", PASS)
    assert (loaded.name, loaded.role, loaded.org, loaded.machine) == ("A. Tanaka", "approver", "ACME", False)
    assert loaded.fingerprint == made.fingerprint and loaded.cert_pem == made.cert_pem
    assert len(loaded.fingerprint) == 64 and loaded.fingerprint == certificate_facts(identity_cert("a tanaka"))[
        "fingerprint"]
    data = b"event hash bytes"
    signature = loaded.sign(data)
    assert verify_signature(made.cert_pem, data, signature)
    assert not verify_signature(made.cert_pem, data + b"!", signature)             # other data
    assert not verify_signature(env["reviewer"].cert_pem, data, signature)         # another identity's key
    assert not verify_signature(made.cert_pem, data, signature[:-1] + b"\x00")     # a damaged signature
    assert not verify_signature("not a certificate", data, signature)             # never raises
    assert not verify_signature(made.cert_pem, data, b"")


def test_passphrase_comes_from_the_environment_when_not_given(env, monkeypatch):
    monkeypatch.setenv("AUDITOR_PASSPHRASE", PASS)
    assert load_identity("A. Tanaka").fingerprint == env["approver"].fingerprint


def test_a_wrong_or_missing_passphrase_is_one_line_of_bad_input(env, monkeypatch):
    with pytest.raises(BadInput) as wrong:
        load_identity("A. Tanaka", "not the passphrase")
    assert str(wrong.value) == "wrong passphrase for A. Tanaka" and wrong.value.exit_code == 2
    assert PASS not in str(wrong.value) and "not the passphrase" not in str(wrong.value)
    assert render(wrong.value.message, "ja") == "A. Tanaka のパスフレーズが違います。"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))          # not a terminal: nobody to ask
    with pytest.raises(IdentityError) as missing:
        load_identity("A. Tanaka")
    assert "AUDITOR_PASSPHRASE" in str(missing.value) and "\n" not in str(missing.value)
    with pytest.raises(IdentityError, match="no identity named Nobody"):
        load_identity("Nobody", PASS)


def test_a_key_file_others_can_read_is_refused_and_so_is_an_open_folder(env):
    key_path = env["folder"] / "a-tanaka.key.pem"
    assert (key_path.stat().st_mode & 0o777) == 0o600 and (env["folder"].stat().st_mode & 0o777) == 0o700
    try:
        os.chmod(key_path, 0o640)
        with pytest.raises(IdentityError) as exposed:
            load_identity("A. Tanaka", PASS)
        assert "can be read or changed by other users (mode 0640)" in str(exposed.value)
        assert exposed.value.message.key == "identity.key_exposed"
    finally:
        os.chmod(key_path, 0o600)
    try:
        os.chmod(env["folder"], 0o770)
        with pytest.raises(IdentityError, match="can be changed by other users"):
            load_identity("A. Tanaka", PASS)
    finally:
        os.chmod(env["folder"], 0o700)
    assert load_identity("A. Tanaka", PASS).name == "A. Tanaka"


def test_the_key_file_is_sealed_with_many_pbkdf2_rounds(env):
    text = (env["folder"] / "a-tanaka.key.pem").read_bytes()
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in text
    info = asn1_keys.EncryptedPrivateKeyInfo.load(asn1_pem.unarmor(text)[2])
    kdf = info["encryption_algorithm"]["parameters"]["key_derivation_func"]["parameters"]
    assert kdf["iteration_count"].native == keyfile.ROUNDS >= 600_000
    assert info["encryption_algorithm"]["parameters"]["encryption_scheme"]["algorithm"].native == "aes256_cbc"
    # standard PKCS#8: another reader (cryptography itself) opens it with the passphrase
    assert serialization.load_pem_private_key(text, PASS.encode()) is not None


def test_the_role_and_the_signing_profile_are_in_the_certificate(env):
    cert = x509.load_pem_x509_certificate(env["approver"].cert_pem.encode())
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "approver"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "A. Tanaka"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME"
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    assert cert.version == x509.Version.v3
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    years = (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365
    assert 2.99 < years < 3.01
    facts = certificate_facts(env["approver"].cert_pem)
    assert (facts["name"], facts["role"], facts["org"], facts["self_signed"]) == ("A. Tanaka", "approver", "ACME", True)
    assert facts["subject"] == "title=approver,O=ACME,CN=A. Tanaka"


def test_a_ca_issued_identity_verifies_against_its_ca_only(env):
    reviewer = env["reviewer"]
    facts = certificate_facts(reviewer.cert_pem)
    assert facts["role"] == "reviewer" and not facts["self_signed"] and facts["issuer"] == "CN=ACME Root CA"
    assert issued_by(reviewer.cert_pem, env["ca_cert"])
    other_ca, _ = _make_ca("Other CA", None)
    assert not issued_by(reviewer.cert_pem, other_ca)
    assert not issued_by(env["approver"].cert_pem, env["ca_cert"])               # self-signed, not by the CA
    assert not issued_by(reviewer.cert_pem, env["approver"].cert_pem)             # not a CA certificate
    assert not issued_by(reviewer.cert_pem, env["ca_cert"],
                         at=datetime.now(timezone.utc) + timedelta(days=4 * 365))  # expired then
    loaded = load_identity("B. Suzuki", PASS)
    assert loaded.issuer_pem == env["ca_cert"] and verify_signature(loaded.cert_pem, b"x", loaded.sign(b"x"))


def test_a_ca_key_needs_its_passphrase_and_a_ca_certificate(env, monkeypatch):
    monkeypatch.setenv("AUDITOR_CA_PASSPHRASE", "wrong ca pass")
    with pytest.raises(IdentityError, match="wrong passphrase for the CA key"):
        create_identity("C. Ito", "preparer", passphrase=PASS, ca_cert_pem=env["ca_cert"], ca_key_pem=env["ca_key"])
    leaf_cert, leaf_key = _make_ca("Not a CA", None, ca=False)
    with pytest.raises(IdentityError, match="is not a CA certificate"):
        create_identity("C. Ito", "preparer", passphrase=PASS, ca_cert_pem=leaf_cert, ca_key_pem=leaf_key)
    _, unrelated_key = _make_ca("Unrelated", None)
    monkeypatch.setenv("AUDITOR_CA_PASSPHRASE", "ca secret pass")
    with pytest.raises(IdentityError, match="does not belong to its certificate"):
        create_identity("C. Ito", "preparer", passphrase=PASS, ca_cert_pem=env["ca_cert"], ca_key_pem=unrelated_key)
    assert not list(env["folder"].glob("c-ito.*"))        # nothing half-made


def test_names_roles_and_passphrases_are_checked_and_nothing_is_overwritten(env):
    before = (env["folder"] / "a-tanaka.key.pem").read_bytes()
    with pytest.raises(IdentityError, match="already exists"):
        create_identity("a  tanaka", "reviewer", passphrase=PASS)     # the same file name
    assert (env["folder"] / "a-tanaka.key.pem").read_bytes() == before
    with pytest.raises(IdentityError, match="the role must be one of"):
        create_identity("D. Sato", "machine", passphrase=PASS)
    with pytest.raises(IdentityError, match="at least 8 characters"):
        create_identity("D. Sato", "preparer", passphrase="short")
    with pytest.raises(IdentityError, match="the name must be"):
        create_identity("...", "preparer", passphrase=PASS)
    assert [r["name"] for r in list_identities()] == ["A. Tanaka", "B. Suzuki"]


def test_the_signer_never_shows_or_ships_its_key(env):
    signer = env["approver"]
    assert "PRIVATE" not in repr(signer) and "_key" not in repr(signer) and "BEGIN" not in repr(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_the_machine_signer_is_created_once_and_reused(env, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(tmp_path / "fresh"))
    first = machine_signer()
    path = tmp_path / "fresh" / "machine.pem"
    assert first.machine and first.role == "machine" and (path.stat().st_mode & 0o777) == 0o600
    assert machine_signer() is first
    machine._CACHE.clear()                     # a new process: read back from the file, not made again
    again = machine_signer()
    assert again.fingerprint == first.fingerprint and again.machine
    assert verify_signature(first.cert_pem, b"audit", again.sign(b"audit"))
    assert certificate_facts(first.cert_pem)["role"] == "machine"
    os.chmod(path, 0o644)
    machine._CACHE.clear()
    with pytest.raises(IdentityError, match="can be read or changed by other users"):
        machine_signer()


def test_a_pdf_signed_through_a_signer_is_valid_for_pyhanko_and_pdfsig(env, tmp_path):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import signers
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    from reportlab.pdfgen import canvas

    from auditor.identity.pades import pdf_signer

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pageCompression=0)
    page.drawString(100, 700, "Decision: approve")
    page.save()
    out = io.BytesIO()
    signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(buffer.getvalue())),
                     signers.PdfSignatureMetadata(field_name="Approver", md_algorithm="sha256"),
                     signer=pdf_signer(env["reviewer"]), output=out)
    ca_root = x509.load_pem_x509_certificate(env["ca_cert"].encode())
    from asn1crypto import x509 as asn1_x509

    root = asn1_x509.Certificate.load(ca_root.public_bytes(serialization.Encoding.DER))
    status = validate_pdf_signature(PdfFileReader(io.BytesIO(out.getvalue())).embedded_signatures[0],
                                    ValidationContext(trust_roots=[root]))
    assert status.intact and status.valid and status.trusted       # chained to the organisation CA
    if shutil.which("pdfsig") is None:
        pytest.skip("poppler's pdfsig is not installed")
    signed, edited = tmp_path / "signed.pdf", tmp_path / "edited.pdf"
    signed.write_bytes(out.getvalue())
    data = bytearray(out.getvalue())
    data[data.index(b"approve")] = ord("A")                         # inside the signed byte range
    edited.write_bytes(bytes(data))
    ok = subprocess.run(["pdfsig", "-nocert", str(signed)], capture_output=True, text=True).stdout
    bad = subprocess.run(["pdfsig", "-nocert", str(edited)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in ok and "B. Suzuki" in ok and "title=reviewer" in ok
    assert "Signature is Valid" not in bad


def test_no_key_material_in_identity_folder_besides_the_sealed_keys(env):
    for path in Path(env["folder"]).iterdir():
        text = path.read_text()
        assert "BEGIN PRIVATE KEY" not in text or path.name == "machine.pem", path
