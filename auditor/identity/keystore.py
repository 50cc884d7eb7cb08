"""People's identities on disk: create, load (unlock), list, and read a certificate.

Each identity is two files in the identities folder (auditor.identity.folder): <slug>.key.pem, the
private key encrypted with the owner's passphrase (0600), <slug>.cert.pem, its certificate, and for
an identity issued by an organisation CA, <slug>.ca.pem, the CA's certificate.
An identity is never overwritten: a second one with the same name (same slug) is refused.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auditor.identity import certs, folder, keyfile
from auditor.identity.errors import IdentityError
from auditor.identity.passphrase import CA_PASSPHRASE_VAR, new_passphrase, passphrase_for
from auditor.identity.signer import Signer, signer_for

MAX_LENGTH = 64        # the X.520 upper bound of a common name and an organisation name


def paths(name: str) -> tuple[Path, Path]:
    """(key file, certificate file) of the identity called `name`."""
    stem = folder.slug(name)
    base = folder.identity_dir()
    return base / f"{stem}.key.pem", base / f"{stem}.cert.pem"


def _check_text(value: str, key: str, field: str) -> str:
    value = " ".join(value.split())
    if not (0 < len(value) <= MAX_LENGTH) or not value.isprintable() or not folder.slug(value):
        raise IdentityError(key, **{field: value or '""'})
    return value


def create_identity(name: str, role: str, org: str | None = None, passphrase: str | None = None, *,
                    ca_cert_pem: str | None = None, ca_key_pem: str | None = None,
                    ca_passphrase: str | None = None) -> Signer:
    """A new ECDSA P-256 key and certificate for `name` in `role`, self-signed or issued by the
    organisation CA; the key is stored encrypted with `passphrase` (None: $AUDITOR_PASSPHRASE or asked
    twice on a terminal). An encrypted CA key is unlocked with `ca_passphrase` (None:
    $AUDITOR_CA_PASSPHRASE or asked). Returns the new identity, ready to sign."""
    name = _check_text(name, "identity.bad_name", "name")
    if role not in certs.PERSON_ROLES:
        raise IdentityError("identity.bad_role", role=role, roles=list(certs.PERSON_ROLES))
    org = _check_text(org, "identity.bad_org", "org") if org else None
    if (ca_cert_pem is None) != (ca_key_pem is None):
        raise IdentityError("identity.ca_incomplete")
    key_path, cert_path = paths(name)
    for existing in (key_path, cert_path):
        if existing.exists():
            raise IdentityError("identity.exists", name=name, path=str(existing))
    ca_cert, ca_key = _organisation_ca(ca_cert_pem, ca_key_pem, ca_passphrase)
    secret = new_passphrase(name, passphrase)      # asked after the cheap checks, before the work
    key = ec.generate_private_key(ec.SECP256R1())
    cert_pem = _pem(certs.build_certificate(key, name=name, role=role, org=org, ca_cert=ca_cert, ca_key=ca_key))
    folder.ensure_dir()
    try:
        folder.write_new(key_path, keyfile.encrypted_pem(key, secret))
    except FileExistsError:      # created by another process since the check above
        raise IdentityError("identity.exists", name=name, path=str(key_path)) from None
    issuer_pem = _pem(ca_cert) if ca_cert is not None else None
    try:
        if issuer_pem:      # kept beside the certificate so a signed PDF can carry the whole chain
            folder.write_new(_issuer_path(cert_path), issuer_pem.encode("ascii"))
        folder.write_new(cert_path, cert_pem.encode("ascii"))
    except BaseException:
        key_path.unlink(missing_ok=True)     # never a key without its certificate
        _issuer_path(cert_path).unlink(missing_ok=True)
        raise
    return signer_for(key, cert_pem, what=name, issuer_pem=issuer_pem)


def _issuer_path(cert_path: Path) -> Path:
    return cert_path.with_name(cert_path.name[: -len(".cert.pem")] + ".ca.pem")


def _organisation_ca(ca_cert_pem: str | None, ca_key_pem: str | None,
                     ca_passphrase: str | None) -> tuple[Any, Any]:
    if ca_cert_pem is None or ca_key_pem is None:
        return None, None
    ca_cert = certs.load_certificate(ca_cert_pem, "--ca-cert")
    if keyfile.is_encrypted(ca_key_pem):
        ca_passphrase = passphrase_for("the CA key", CA_PASSPHRASE_VAR, ca_passphrase)
    ca_key = keyfile.load_private_key(ca_key_pem, ca_passphrase, "the CA key")
    certs.check_ca(ca_cert, ca_key)
    return ca_cert, ca_key


def _pem(cert: Any) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def identity_cert(name: str) -> str:
    """The certificate (PEM) of the identity called `name`; no passphrase needed."""
    _, cert_path = _existing(name)
    return folder.read_text(cert_path)


def _existing(name: str) -> tuple[Path, Path]:
    key_path, cert_path = paths(name)
    base = folder.identity_dir()
    if not folder.slug(name) or not cert_path.is_file():
        raise IdentityError("identity.unknown", name=name, folder=str(base))
    folder.check_folder(base)
    folder.check_public_file(cert_path)
    return key_path, cert_path


def load_identity(name: str, passphrase: str | None = None) -> Signer:
    """The identity `name`, unlocked: `passphrase`, else $AUDITOR_PASSPHRASE, else asked on a terminal.
    IdentityError (a BadInput, exit 2, one line) when it is unknown, its key file is open to others, the
    passphrase is wrong, or its certificate is not valid now."""
    key_path, cert_path = _existing(name)
    if not key_path.is_file():
        raise IdentityError("identity.unknown", name=name, folder=str(folder.identity_dir()))
    folder.check_private_file(key_path)
    cert_pem = folder.read_text(cert_path)
    facts = certs.certificate_facts(cert_pem)
    what = facts["name"] or name
    key_pem = folder.read_text(key_path)
    secret = passphrase_for(what, given=passphrase) if keyfile.is_encrypted(key_pem) else None
    key = keyfile.load_private_key(key_pem, secret, what)
    issuer_path = _issuer_path(cert_path)
    issuer_pem = folder.read_text(issuer_path) if issuer_path.is_file() else None
    return signer_for(key, cert_pem, what=what, issuer_pem=issuer_pem)


def list_identities() -> list[dict[str, Any]]:
    """Every identity in the folder: certificate facts plus `cert_path` and `has_key`, sorted by name.
    A certificate that cannot be read is listed with `error` instead of facts."""
    base = folder.identity_dir()
    if not base.is_dir():
        return []
    rows = []
    for cert_path in sorted(base.glob("*.cert.pem")):
        key_path = cert_path.with_name(cert_path.name[: -len(".cert.pem")] + ".key.pem")
        try:
            row: dict[str, Any] = certs.certificate_facts(folder.read_text(cert_path))
        except IdentityError as exc:
            row = {"name": cert_path.name, "error": str(exc)}
        rows.append({**row, "cert_path": str(cert_path), "has_key": key_path.is_file()})
    return sorted(rows, key=lambda r: str(r.get("name") or "").casefold())
