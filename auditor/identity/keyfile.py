"""Private keys as files: PKCS#8 PEM, encrypted with a passphrase (people) or plain (the machine key).

cryptography's BestAvailableEncryption writes PBES2 with only 2,048 PBKDF2 rounds: a copied key
file would fall to a dictionary quickly. So the encrypted form is built here, still standard
PKCS#8 PBES2 (openssl, pyHanko and cryptography read it): PBKDF2-HMAC-SHA256 with ROUNDS rounds
(OWASP 2023; about 0.2 s to unlock) and AES-256-CBC. Nothing here prints or logs a secret.
"""
from __future__ import annotations

import os
from typing import Any

from asn1crypto import algos, core, keys, pem
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from auditor.identity.errors import IdentityError

ROUNDS = 600_000


def encrypted_pem(key: ec.EllipticCurvePrivateKey, passphrase: str) -> bytes:
    """`key` as an ENCRYPTED PRIVATE KEY PEM (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC)."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    salt, iv = os.urandom(16), os.urandom(16)
    kek = PBKDF2HMAC(hashes.SHA256(), 32, salt, ROUNDS).derive(passphrase.encode("utf-8"))
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    sealed = encryptor.update(padder.update(der) + padder.finalize()) + encryptor.finalize()
    info = keys.EncryptedPrivateKeyInfo({
        "encryption_algorithm": {"algorithm": "pbes2", "parameters": {
            "key_derivation_func": {"algorithm": "pbkdf2", "parameters": {
                "salt": algos.Pbkdf2Salt(name="specified", value=core.OctetString(salt)),
                "iteration_count": ROUNDS, "prf": {"algorithm": "sha256"}}},
            "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv}}},
        "encrypted_data": sealed})
    return pem.armor("ENCRYPTED PRIVATE KEY", info.dump())


def plain_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def is_encrypted(key_pem: str | bytes) -> bool:
    text = key_pem.decode("ascii", "replace") if isinstance(key_pem, bytes) else key_pem
    return "ENCRYPTED" in text.split("-----END", 1)[0]


def load_private_key(key_pem: str | bytes, passphrase: str | None, what: str) -> Any:
    """The private key in `key_pem`; IdentityError (one line, naming `what`, never the passphrase) for a
    wrong or missing passphrase or for something that is not a usable key."""
    data = key_pem.encode("ascii", "replace") if isinstance(key_pem, str) else key_pem
    encrypted = is_encrypted(data)
    if encrypted and passphrase is None:
        raise IdentityError("identity.wrong_passphrase", what=what)
    password = passphrase.encode("utf-8") if encrypted and passphrase is not None else None
    try:
        return serialization.load_pem_private_key(data, password=password)
    except ValueError as exc:
        # cryptography: "Incorrect password, could not decrypt key" (older: "Bad decrypt")
        wrong = encrypted and any(word in str(exc).lower() for word in ("password", "decrypt"))
        raise IdentityError("identity.wrong_passphrase" if wrong else "identity.not_a_key", what=what) from None
    except Exception:  # noqa: BLE001 - an unsupported algorithm or a corrupt file: one line, no detail
        raise IdentityError("identity.not_a_key", what=what) from None
