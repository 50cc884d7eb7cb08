"""CLI commands for who signs: `identity create|list|export-cert|revoke` and `trust add`.

Argument parsing and printing only; the work is in auditor.identity (keys and certificates) and the
store's signed event chain. Events recorded here (signed by --by IDENTITY, else the machine key):
- identity.revoked {fingerprint, name}: that certificate signs nothing after this event; what it
  signed before stays valid.
- trust.added {cert_pem, fingerprint, subject}: an organisation CA or a person's certificate that
  `auditor verify` treats as trusted.
Nothing secret is printed: passphrases come from AUDITOR_PASSPHRASE / AUDITOR_CA_PASSPHRASE or a
prompt without echo; refusals are one line and exit 2 (auditor.identity.IdentityError).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from auditor.errors import BadInput


def add_parsers(sub: Any) -> None:
    identity = sub.add_parser("identity", help="create, list, export and revoke signing identities")
    actions = identity.add_subparsers(dest="identity_command", metavar="ACTION", parser_class=type(identity))
    actions.required = True

    create = actions.add_parser("create", help="a new key pair and certificate for a person in a role")
    create.add_argument("--name", required=True, metavar="NAME", help='the person, e.g. "A. Tanaka"')
    create.add_argument("--role", required=True, choices=("preparer", "reviewer", "approver", "admin"))
    create.add_argument("--org", metavar="ORG", help="organisation written in the certificate")
    create.add_argument("--ca-cert", metavar="FILE.pem", help="organisation CA certificate that issues this one")
    create.add_argument("--ca-key", metavar="FILE.pem",
                        help="the CA's private key (its passphrase: AUDITOR_CA_PASSPHRASE or asked)")
    create.add_argument("--json", action="store_true")

    listing = actions.add_parser("list", help="the identities on this computer")
    listing.add_argument("--json", action="store_true")

    export = actions.add_parser("export-cert", help="write an identity's certificate (public) to a file")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--out", required=True, metavar="FILE.pem")

    revoke = actions.add_parser("revoke", help="record in the audit database that an identity signs no more")
    revoke.add_argument("name", metavar="NAME")
    _event_options(revoke)

    trust = sub.add_parser("trust", help="certificates the audit database trusts")
    trust_actions = trust.add_subparsers(dest="trust_command", metavar="ACTION", parser_class=type(trust))
    trust_actions.required = True
    add = trust_actions.add_parser("add", help="trust an organisation CA or a person's certificate")
    add.add_argument("cert", metavar="CERT.pem")
    _event_options(add)


def _event_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", metavar="IDENTITY", help="who records it (default: this installation's machine key)")
    p.add_argument("--db", metavar="PATH", help="database file (default: $AUDITOR_DB or the user data folder)")
    p.add_argument("--json", action="store_true")


def cmd_identity(args: argparse.Namespace) -> int:
    return {"create": _create, "list": _list, "export-cert": _export, "revoke": _revoke}[args.identity_command](args)


def cmd_trust(args: argparse.Namespace) -> int:
    return {"add": _trust_add}[args.trust_command](args)


COMMANDS = {"identity": cmd_identity, "trust": cmd_trust}


def _read(path: str, flag: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{flag} {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None


def _create(args: argparse.Namespace) -> int:
    from auditor.identity import certificate_facts, create_identity
    from auditor.identity.keystore import paths

    if bool(args.ca_cert) != bool(args.ca_key):
        raise BadInput("--ca-cert and --ca-key go together: give both, or neither for a self-signed certificate")
    ca_cert = _read(args.ca_cert, "--ca-cert") if args.ca_cert else None
    ca_key = _read(args.ca_key, "--ca-key") if args.ca_key else None
    signer = create_identity(args.name, args.role, args.org, ca_cert_pem=ca_cert, ca_key_pem=ca_key)
    facts = certificate_facts(signer.cert_pem)
    key_path, cert_path = paths(signer.name)
    if args.json:
        print(json.dumps({**_public(facts), "cert_path": str(cert_path), "key_path": str(key_path)},
                         ensure_ascii=False))
        return 0
    issued = "self-signed" if facts["self_signed"] else f"issued by {facts['issuer']}"
    print(f"Created identity {signer.name} ({signer.role}" + (f", {signer.org})" if signer.org else ")"))
    print(f"Fingerprint: {signer.fingerprint}")
    print(f"Certificate: {issued}, valid until {facts['not_after']}")
    print(f"Files:       {cert_path} and {key_path.name} (encrypted with your passphrase; owner-only)")
    return 0


def _public(facts: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "role", "org", "fingerprint", "subject", "issuer", "not_before", "not_after", "self_signed")
    return {k: facts.get(k) for k in keys}


def _list(args: argparse.Namespace) -> int:
    from auditor.identity import certificate_facts, identity_dir, list_identities
    from auditor.identity.machine import machine_certificate

    rows = list_identities()
    machine_pem = machine_certificate()
    machine = _public(certificate_facts(machine_pem)) if machine_pem else None
    if args.json:
        print(json.dumps({"folder": str(identity_dir()), "identities": rows, "machine": machine}, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no identities yet in {identity_dir()}; create one with "
              "`auditor identity create --name NAME --role preparer|reviewer|approver|admin`")
    else:
        print(f"{'NAME':<24} {'ROLE':<9} {'ORG':<20} {'FINGERPRINT':<18} EXPIRES")
        for r in rows:
            if r.get("error"):
                print(f"{r['name']:<24} ? {r['error']}")
                continue
            print(f"{(r['name'] or '')[:24]:<24} {r['role'] or '-':<9} {(r['org'] or '-')[:20]:<20} "
                  f"{r['fingerprint'][:16] + '…':<18} {r['not_after'][:10]}" + ("" if r["has_key"] else "  (no key)"))
    if machine:
        print(f"machine key: {machine['name']}, fingerprint {machine['fingerprint'][:16]}…, "
              f"expires {machine['not_after'][:10]}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from auditor.identity import certificate_facts, identity_cert

    cert_pem = identity_cert(args.name)
    out = Path(args.out)
    try:
        out.write_text(cert_pem, encoding="ascii")
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot write it ({exc.strerror or exc})") from None
    facts = certificate_facts(cert_pem)
    print(f"Wrote the certificate of {facts['name']} ({facts['role']}, fingerprint {facts['fingerprint']}) to {out}")
    return 0


def _acting(by: str | None) -> Any:
    from auditor.identity import load_identity, machine_signer

    return load_identity(by) if by else machine_signer()


def _record(args: argparse.Namespace, kind: str, detail: dict[str, Any]) -> tuple[int, Any]:
    """Appends one signed event (no audit) to the database; returns its id and the signer."""
    from auditor import api
    from auditor.store import records

    signer = _acting(args.by)
    with api.session(args.db, write=True) as handle, handle.conn:
        event_id = records.add_event(handle, None, kind, detail, actor=signer.name, signer=signer)
    return event_id, signer


def _signed_by(signer: Any) -> str:
    return signer.name if signer.machine else f"{signer.name} ({signer.role})"     # the name says "machine key"


def _revoke(args: argparse.Namespace) -> int:
    from auditor import api
    from auditor.identity import certificate_facts, identity_cert

    facts = certificate_facts(identity_cert(args.name))
    event_id, signer = _record(args, "identity.revoked", {"fingerprint": facts["fingerprint"], "name": facts["name"]})
    if args.json:
        print(json.dumps({"event_id": event_id, "fingerprint": facts["fingerprint"], "name": facts["name"],
                          "signed_by": signer.fingerprint}, ensure_ascii=False))
        return 0
    print(f"Revoked {facts['name']} (fingerprint {facts['fingerprint']}) in {api.db_path(args.db)}: it signs "
          "nothing from now on; what it signed before stays valid.")
    print(f"Recorded as event {event_id}, signed by {_signed_by(signer)}.")
    return 0


def _trust_add(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.serialization import Encoding

    from auditor import api
    from auditor.identity import certificate_facts
    from auditor.identity.certs import is_ca, load_certificate

    cert = load_certificate(_read(args.cert, "CERT.pem"), args.cert)
    cert_pem = cert.public_bytes(Encoding.PEM).decode("ascii")      # the first certificate of the file, only
    facts = certificate_facts(cert_pem)
    kind = "organisation CA" if is_ca(cert) else "individual certificate"
    event_id, signer = _record(args, "trust.added", {"cert_pem": cert_pem,
                                                     "fingerprint": facts["fingerprint"], "subject": facts["subject"]})
    if args.json:
        print(json.dumps({"event_id": event_id, "fingerprint": facts["fingerprint"], "subject": facts["subject"],
                          "ca": kind == "organisation CA", "signed_by": signer.fingerprint}, ensure_ascii=False))
        return 0
    print(f"Trusted {facts['subject']} ({kind}, fingerprint {facts['fingerprint']}) in {api.db_path(args.db)}.")
    print(f"Recorded as event {event_id}, signed by {_signed_by(signer)}.")
    return 0
