"""The commands of `auditor --server URL ...`: each prints what its local twin in auditor.cli prints and
returns the same exit code, from the service's answers (auditor.client.Service)."""
from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditor.client_http import Service, ServiceError
from auditor.errors import BadInput

# audit flags that only mean something on this computer's files or keys: refused rather than silently dropped
LOCAL_ONLY = {"tokenizer": "--tokenizer", "reference": "--reference", "layer_outputs": "--layer-outputs",
              "skip_bad_probes": "--skip-bad-probes", "identity": "--identity"}


def _path(*parts: str) -> str:
    return "/v1/" + "/".join(quote(str(p), safe="") for p in parts)


def show_remote(service: Service, audit_id: str) -> dict[str, Any]:
    """The `auditor show --json` object of a stored audit."""
    return service.get(_path("audits", audit_id))


def format_remote(data: dict[str, Any], service: Service) -> str:
    """auditor.cli.format_audit, with the service in place of the local database in its last two lines."""
    from auditor.cli import format_audit

    lines = format_audit(data, None).split("\n")
    lines[-2:] = [f"Server:      {service.url}",
                  f"Details:     auditor --server {service.url} show {data['audit_id']} --json"]
    return "\n".join(lines)


def cmd_list(service: Service, args: argparse.Namespace) -> int:
    answer = service.get("/v1/audits")
    rows = answer["audits"] if isinstance(answer, dict) else answer
    from auditor.cli import print_audit_list

    return print_audit_list(rows, args.json)


def cmd_show(service: Service, args: argparse.Namespace) -> int:
    data = show_remote(service, args.audit_id)
    if args.junit:
        from auditor.junit import write_junit

        write_junit(data, Path(args.junit))
    print(json.dumps(data, ensure_ascii=False) if args.json else format_remote(data, service))
    return 0


def cmd_compare(service: Service, args: argparse.Namespace) -> int:
    from auditor.cli_governance import print_compare

    data = service.get("/v1/compare", {"a": args.audit_a, "b": args.audit_b})
    return print_compare(data, args)


def cmd_report(service: Service, args: argparse.Namespace) -> int:
    if getattr(args, "sign", None):
        return _signed_report(service, args)
    out = Path(args.out)
    _prepare_out(out)
    query = {"kind": args.kind, "lang": args.lang, **({"draft": "true"} if args.draft else {})}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as target:
            service.download(_path("audits", args.audit_id, "report"), query, target)
        if not tmp.read_bytes().startswith(b"%PDF-"):
            raise ServiceError(f"the audit server at {service.url} sent a report that is not a PDF")
        os.replace(tmp, out)
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot write the report: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    _print_report(out, bool(args.draft))
    return 0


def _signed_report(service: Service, args: argparse.Namespace) -> int:
    """`report --sign IDENTITY` through the service, the key staying here: the server renders the report with
    this signer's block (auditor.service.routes_reports), this computer signs it with PAdES as a local
    `auditor report --sign` does (reports.commands.sign_rendered), the server checks and records it, and only
    then is --out written. Prints the local command's lines."""
    from auditor.identity import load_identity
    from auditor.messages import Message, render
    from reports.commands import signing

    if args.draft:
        raise BadInput(render(Message("signing.refused.draft"), "en"))
    out = Path(args.out)
    _prepare_out(out)                      # a bad --out is refused before the passphrase is asked
    signer = load_identity(args.sign)
    signed_report(service, args.audit_id, out, signer, args.kind or "full", args.lang or "en")
    _print_report(out, False)
    sig = signing.read_signatures(out.read_bytes())[-1]
    at = sig.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if sig.signed_at else "?"
    print(render(Message("signing.printed", {"name": signer.name, "role": signer.role, "at": at,
                                             "fingerprint": signer.fingerprint}), "en"))
    return 0


def signed_report(service: Service, audit_id: str, out: Path, signer: Any, kind: str, lang: str) -> Path:
    """The report of `audit_id` prepared by the service for `signer` (an unlocked identity), signed here with
    PAdES and recorded by the service; `out` is written only after the service recorded it. The CLI's
    `report --sign` and the desktop client's Export page (service mode) both call this."""
    from auditor.messages import Message, render
    from reports.commands import sign_rendered

    if signer.machine:
        raise BadInput(render(Message("signing.refused.machine"), "en"))
    _prepare_out(out)                      # the CLI checked it before the passphrase; checked again for others
    answer = service.post(_path("audits", audit_id, "report", "to-sign"),
                          {"kind": kind, "lang": lang, "certificate": signer.cert_pem})
    pdf, block = _to_sign(answer, service)
    if block.fingerprint != signer.fingerprint:
        raise ServiceError(render(Message("service.report.other_signer", {"named": block.name, "name": signer.name}),
                                  "en"))
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        tmp.write_bytes(pdf)
        sign_rendered(tmp, signer, block)
        service.post(_path("audits", audit_id, "reports"),
                     {"pdf": base64.b64encode(tmp.read_bytes()).decode("ascii"), "file": out.name})
        os.replace(tmp, out)               # only a report the server recorded is left: it verifies
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot write the report: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _to_sign(answer: Any, service: Service) -> tuple[bytes, Any]:
    """The unsigned PDF and its SignatureBlock (where the signature goes) from the service's answer."""
    from datetime import datetime

    from reports.commands import SignatureBlock

    try:
        raw = base64.b64decode(answer["pdf"], validate=True)
        b = answer["signature_block"]
        block = SignatureBlock(name=str(b["name"]), role=str(b["role"]), org=b.get("org"),
                               fingerprint=str(b["fingerprint"]),
                               at=datetime.fromisoformat(str(b["at"]).replace("Z", "+00:00")),
                               page=int(b["page"]), box=tuple(float(v) for v in b["box"]))
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise ServiceError(f"the audit server at {service.url} sent a report to sign that cannot be read") from None
    if not raw.startswith(b"%PDF-") or len(block.box or ()) != 4:
        raise ServiceError(f"the audit server at {service.url} sent a report to sign that cannot be read")
    return raw, block


def _prepare_out(out: Path) -> None:
    """The local report command's own checks of --out, before anything is asked of the server."""
    from reports.commands import _prepare_out as check_out  # one rule for local and remote reports

    check_out(out)


def _print_report(out: Path, draft: bool) -> None:
    """The lines the local `auditor report` prints, read back from the downloaded PDF."""
    from reports.commands import page_count
    from reports.commands import read_evidence as read

    info = read(out).info
    print(f"Report:      {out} ({info.get('kind')}, {info.get('lang')}, {page_count(out)} page(s))")
    print(f"Report ID:   {info.get('report_id')}")
    print(f"Fingerprint: {info.get('fingerprint')}")
    print(f"PDF SHA-256: {hashlib.sha256(out.read_bytes()).hexdigest()}")
    if draft:
        print("Draft:       every page is marked DRAFT; `auditor verify-report` never accepts it as a final report")


def cmd_sign(service: Service, args: argparse.Namespace) -> int:
    from auditor.client_sign import signed_statement

    if not args.identity:
        raise BadInput("sign with --server needs --identity NAME: the sign-off is signed on this computer with the "
                       "identity's key (the server holds no one's key)")
    body = signed_statement(service, args)
    data = service.post(_path("audits", args.audit_id, "signoffs"), body)
    print(json.dumps(data, ensure_ascii=False) if args.json else
          f"Audit {data['audit_id']} signed by {data['name']} as {data['role']}"
          + (f": {data['decision']}" if data.get("decision") else "")
          + f" (fingerprint {str(data.get('fingerprint'))[:16]})")
    return 0


def cmd_audit(service: Service, args: argparse.Namespace) -> int:
    from auditor.client_audit import follow, request_body

    for attr, flag in LOCAL_ONLY.items():
        if getattr(args, attr, None):
            raise BadInput(f"{flag} is not available with --server: the service runs the audit with its own "
                           "files and signs it with its machine key")
    job = service.post("/v1/audits", request_body(args))
    audit_id = follow(service, job, args.progress)
    data = show_remote(service, audit_id)
    print(json.dumps(data, ensure_ascii=False) if args.json else format_remote(data, service))
    from auditor.cli import matches_fail_on

    return 1 if matches_fail_on(data["verdict"], args.fail_on) else 0


COMMANDS = {"audit": cmd_audit, "list": cmd_list, "show": cmd_show, "report": cmd_report, "sign": cmd_sign,
            "compare": cmd_compare}
