"""X.509 certificates of identities: made (self-signed or by an organisation CA), read and checked.

Profile (chosen so pyHanko and poppler's pdfsig accept the certificate for PDF signatures):
ECDSA P-256 keys, X.509 v3, subject CN=name, O=org, title=role; keyUsage digitalSignature +
nonRepudiation (critical); extendedKeyUsage emailProtection (what NSS, under pdfsig, checks
for a document signer) and id-kp-documentSigning (RFC 9336); basicConstraints CA:FALSE;
valid for 3 years (never past the issuing CA's own end).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from auditor.identity.errors import IdentityError

PERSON_ROLES = ("preparer", "reviewer", "approver", "admin")
ROLES = (*PERSON_ROLES, "machine")
VALIDITY = timedelta(days=3 * 365)
SKEW = timedelta(minutes=5)        # not_before a little in the past: a verifier's clock may run behind
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")    # id-kp-documentSigning, RFC 9336
_SHORT = {NameOID.TITLE: "title"}     # rfc4514_string writes unnamed attributes as dotted OIDs


def load_certificate(cert_pem: str | bytes, what: str = "the certificate") -> x509.Certificate:
    data = cert_pem.encode("ascii", "replace") if isinstance(cert_pem, str) else cert_pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise IdentityError("identity.not_a_certificate", what=what) from None


def fingerprint(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the certificate's DER bytes (what events and reports name a signer by)."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _attribute(name: x509.Name, oid: ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def certificate_facts(cert_pem: str) -> dict[str, Any]:
    """name, role, org, fingerprint, subject, issuer, serial, not_before, not_after (ISO, UTC),
    self_signed. The role is the subject's title (or OU, for certificates made elsewhere)."""
    cert = load_certificate(cert_pem)
    subject = cert.subject
    return {
        "name": _attribute(subject, NameOID.COMMON_NAME),
        "role": _attribute(subject, NameOID.TITLE) or _attribute(subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
        "org": _attribute(subject, NameOID.ORGANIZATION_NAME),
        "fingerprint": fingerprint(cert),
        "subject": subject.rfc4514_string(_SHORT),
        "issuer": cert.issuer.rfc4514_string(_SHORT),
        "serial": format(cert.serial_number, "x"),
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(cert.not_valid_after_utc),
        "self_signed": _self_signed(cert),
    }


def valid_now(cert: x509.Certificate, at: datetime | None = None) -> bool:
    moment = at or datetime.now(timezone.utc)
    return cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc


def require_valid_now(cert: x509.Certificate, what: str) -> None:
    if not valid_now(cert):
        raise IdentityError("identity.expired", what=what, not_before=_iso(cert.not_valid_before_utc),
                            not_after=_iso(cert.not_valid_after_utc))


def _self_signed(cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def issued_by(cert_pem: str, ca_cert_pem: str, at: datetime | None = None) -> bool:
    """True when `ca_cert_pem` is a CA certificate that signed `cert_pem` and both are valid at `at`
    (now by default). Never raises on bad input."""
    try:
        cert, ca = load_certificate(cert_pem), load_certificate(ca_cert_pem)
        if not (is_ca(ca) and valid_now(cert, at) and valid_now(ca, at)):
            return False
        cert.verify_directly_issued_by(ca)
    except (IdentityError, ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign)
    except x509.ExtensionNotFound:
        return True


def verify_signature(cert_pem: str, data: bytes, signature: bytes) -> bool:
    """True when `signature` (DER ECDSA over SHA-256) is the certificate's key's signature of `data`.
    Never raises on bad input (a broken PEM, a signature of garbage, a non-EC key): False."""
    try:
        key = load_certificate(cert_pem).public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(bytes(signature), bytes(data), ec.ECDSA(hashes.SHA256()))
    except Exception:  # noqa: BLE001 - any failure to verify is "not verified", by contract
        return False
    return True


def build_certificate(key: ec.EllipticCurvePrivateKey, *, name: str, role: str, org: str | None,
                      ca_cert: x509.Certificate | None = None, ca_key: Any = None) -> x509.Certificate:
    """An end-entity certificate for `key` (self-signed unless a CA certificate and key are given)."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
    if org:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attributes.append(x509.NameAttribute(NameOID.TITLE, role))
    subject = x509.Name(attributes)
    start = datetime.now(timezone.utc) - SKEW
    end = start + VALIDITY
    issuer_name, signing_key = subject, key
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    if ca_cert is not None:
        issuer_name, signing_key = ca_cert.subject, ca_key
        end = min(end, ca_cert.not_valid_after_utc)
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
                              critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(authority, critical=False))
    return builder.sign(signing_key, _hash_for(signing_key))


def _hash_for(key: Any) -> hashes.HashAlgorithm | None:
    """EdDSA keys sign without a separate hash; ECDSA and RSA CA keys sign with SHA-256."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        return hashes.SHA256()
    raise IdentityError("identity.not_a_key", what="the CA key")


def check_ca(ca_cert: x509.Certificate, ca_key: Any) -> None:
    """The organisation CA can issue: a CA certificate, valid now, whose key is the one given."""
    if not is_ca(ca_cert):
        raise IdentityError("identity.not_a_ca", what="--ca-cert")
    require_valid_now(ca_cert, "--ca-cert")
    if ca_key.public_key() != ca_cert.public_key():
        raise IdentityError("identity.key_mismatch", what="--ca-cert")

