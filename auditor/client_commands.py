"""The commands of `auditor --server URL ...`: each prints what its local twin in auditor.cli prints and
returns the same exit code, from the service's answers (auditor.client.Service)."""
from __future__ import annotations

import argparse
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
        raise BadInput("--sign with --server: a signed report is signed on the computer that holds the identity's "
                       "key; write it with a local `auditor report --sign` on a copy of the database")
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


def _prepare_out(out: Path) -> None:
    """The local report command's own checks of --out, before anything is asked of the server."""
    from reports.commands import _prepare_out as check_out  # one rule for local and remote reports

    check_out(out)


def _print_report(out: Path, draft: bool) -> None:
    """The lines the local `auditor report` prints, read back from the downloaded PDF."""
    from reports.commands import page_count
    from reports.evidence import read

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
