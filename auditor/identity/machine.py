"""The per-installation machine key: signs what is done without a person's identity (CI audits).

One file, machine.pem in the identities folder, holds the plain private key and its self-signed
certificate (role `machine`), owner-only (0600): no passphrase, because nobody is there to type
one; its signatures say "this installation", never a person. Created on first use, atomically (two
processes starting at once end up with the same key), and reused after that.
"""
from __future__ import annotations

import socket
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from auditor.identity import certs, folder, keyfile
from auditor.identity.errors import IdentityError
from auditor.identity.signer import Signer, signer_for

FILE_NAME = "machine.pem"
_MARKER = "-----BEGIN CERTIFICATE-----"
_CACHE: dict[str, Signer] = {}


def machine_path() -> Path:
    return folder.identity_dir() / FILE_NAME


def machine_name() -> str:
    host = "".join(ch for ch in socket.gethostname() if ch.isprintable())[:40] or "localhost"
    return f"auditor machine key ({host})"


def machine_signer() -> Signer:
    """This installation's machine Signer (role "machine", machine=True), created on first use."""
    path = machine_path()
    cached = _CACHE.get(str(path))
    if cached is not None and path.is_file():
        return cached
    if not path.is_file():
        _create(path)
    signer = _load(path)
    _CACHE[str(path)] = signer
    return signer


def machine_certificate() -> str | None:
    """The machine key's certificate (PEM) when the key exists; reads no private key."""
    path = machine_path()
    text = folder.read_text(path) if path.is_file() else ""
    return _MARKER + text.split(_MARKER, 1)[1] if _MARKER in text else None


def _create(path: Path) -> None:
    folder.ensure_dir()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certs.build_certificate(key, name=machine_name(), role="machine", org=None)
    from cryptography.hazmat.primitives import serialization

    data = keyfile.plain_pem(key) + cert.public_bytes(serialization.Encoding.PEM)
    try:
        folder.write_new(path, data)
    except FileExistsError:     # another process made it first: use theirs
        pass


def _load(path: Path) -> Signer:
    folder.check_folder(path.parent)
    folder.check_private_file(path)
    text = folder.read_text(path)
    if _MARKER not in text:
        raise IdentityError("identity.not_a_certificate", what=str(path))
    key_pem, cert_pem = text.split(_MARKER, 1)
    key = keyfile.load_private_key(key_pem, None, str(path))
    return signer_for(key, _MARKER + cert_pem, machine=True, what=str(path))
