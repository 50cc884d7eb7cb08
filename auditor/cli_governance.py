"""CLI commands after an audit: compare, reevaluate, sign, assign, report, verify-report.

Argument parsing and printing only; the work is in auditor.api (and reports/ for PDFs, which
only `report` and `verify-report` import, so other commands never load reportlab).
"""
from __future__ import annotations

import argparse
import json
from typing import Any

ARROW = {"improved": "↑ improved", "worse": "↓ worse", "unchanged": "= unchanged", "changed": "~ changed",
         "not_comparable": "  n/a", "not_compared": "○ not compared"}


def add_parsers(sub: Any) -> None:
    compare = sub.add_parser("compare", help="what changed between two audits (A before, B after)")
    compare.add_argument("audit_a", metavar="AUDIT_A")
    compare.add_argument("audit_b", metavar="AUDIT_B")
    compare.add_argument("--db", metavar="PATH")
    compare.add_argument("--json", action="store_true")
    compare.add_argument("--all", action="store_true", help="also list unchanged figures")

    reeval = sub.add_parser("reevaluate", help="apply a (changed) template to stored results, as a new evaluation")
    reeval.add_argument("audit_id", metavar="AUDIT_ID")
    reeval.add_argument("--template", required=True, metavar="NAME|PATH")
    reeval.add_argument("--db", metavar="PATH")
    reeval.add_argument("--actor", metavar="NAME", help="who re-evaluated (recorded in the event log)")
    reeval.add_argument("--identity", metavar="NAME", help="sign the re-evaluation as this identity")
    reeval.add_argument("--json", action="store_true")
    reeval.add_argument("--fail-on", choices=("warn", "fail"))

    sign = sub.add_parser("sign", help="record a sign-off of an audit")
    sign.add_argument("audit_id", metavar="AUDIT_ID")
    sign.add_argument("--role", required=True, choices=("preparer", "reviewer", "approver"))
    sign.add_argument("--name", required=True, metavar="NAME")
    sign.add_argument("--decision", metavar="TEXT", help="e.g. approve / approve with conditions / reject")
    sign.add_argument("--db", metavar="PATH")
    sign.add_argument("--identity", metavar="NAME",
                      help="sign with this identity (its name and role must be --name and --role)")
    sign.add_argument("--json", action="store_true")

    assign = sub.add_parser("assign", help="set the owner and/or due date of a finding")
    assign.add_argument("audit_id", metavar="AUDIT_ID")
    assign.add_argument("finding_id", type=int, metavar="FINDING_ID")
    assign.add_argument("--owner", metavar="NAME")
    assign.add_argument("--due", metavar="YYYY-MM-DD")
    assign.add_argument("--actor", metavar="NAME")
    assign.add_argument("--identity", metavar="NAME", help="sign the assignment as this identity")
    assign.add_argument("--db", metavar="PATH")
    assign.add_argument("--json", action="store_true")

    report = sub.add_parser("report", help="write a PDF report of a stored audit")
    report.add_argument("audit_id", metavar="AUDIT_ID")
    report.add_argument("--out", required=True, metavar="FILE.pdf")
    report.add_argument("--kind", choices=("board", "full"), default="full")
    report.add_argument("--lang", choices=("en", "ja"), default="en")
    report.add_argument("--db", metavar="PATH")
    report.add_argument("--draft", action="store_true",
                        help="allow a report of an audit that is not completed: every page is marked DRAFT, "
                             "and verify-report never accepts it as a final report")
    report.add_argument("--sign", metavar="IDENTITY",
                        help="sign the PDF (PAdES) as this identity, with a visible signature block on the decision "
                             "page; passphrase from AUDITOR_PASSPHRASE or asked")

    verify = sub.add_parser("verify-report", help="check a PDF report against its evidence (and the database); "
                                                  "a draft never verifies")
    verify.add_argument("pdf", metavar="FILE.pdf")
    verify.add_argument("--db", metavar="PATH")


def cmd_compare(args: argparse.Namespace) -> int:
    from auditor.api import compare_audits

    return print_compare(compare_audits(args.audit_a, args.audit_b, args.db), args)


def print_compare(data: dict[str, Any], args: argparse.Namespace) -> int:
    """Prints a comparison (`--json`, `--all`) as `auditor compare` does; also for `--server` (auditor.client)."""
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    lines = _compare_header(data)
    s = data["summary"]
    lines += ["", f"{s['improved']} improved, {s['worse']} worse, {s['unchanged']} unchanged, "
              f"{s['changed']} changed (no rule says which way is better), {s.get('not_compared', 0)} not compared; "
              f"tolerance {data['tolerance']:.0%} relative", "", "Ratings:"]
    for dim, r in data["ratings"].items():
        change = r.get("change") or ""
        why = f" ({r['reason']})" if r.get("reason") else ""
        lines.append(f"  {dim:<13} {r['a'] or '-':<13} -> {r['b'] or '-':<13} "
                     f"{'not compared' if change == 'not_compared' else change}{why}")
    lines += ["", "Figures:"]
    hidden = 0
    for row in data["metrics"]:
        if row["direction"] in ("unchanged", "not_compared") and not args.all:
            hidden += row["direction"] == "not_compared"
            continue
        name = row["name"] + (f"[{row['variant']}]" if row["variant"] else "") + \
            (f" ({row['reduce']})" if row["reduce"] else "")
        lines.append(f"  {ARROW[row['direction']]:<14} {row['check_id']:<28} {name:<40} "
                     f"{_num(row['a'])} -> {_num(row['b'])}")
    if hidden:
        lines.append(f"  ({hidden} figure(s) of checks not compared are left out; --all lists them)")
    moved = [f for f in data["findings"] if f["change"] not in ("same", "not_compared")]
    lines += ["", "Findings that changed:" if moved else "No compared finding changed severity."]
    for f in moved:
        lines.append(f"  {f['change']:<6} {f['title']} ({f['metric'] or f['check_id']}): {f['a'] or '-'} -> {f['b'] or '-'}")
    apart = [f for f in data["findings"] if f["change"] == "not_compared"]
    if apart:
        lines += ["", "Findings not compared (their check did not run under the same conditions in both):"]
        lines += [f"  {f['title']} ({f['metric'] or f['check_id']}): {f['a'] or '-'} -> {f['b'] or '-'}" for f in apart]
    print("\n".join(lines))
    return 0


def _compare_header(data: dict[str, Any]) -> list[str]:
    """Both audits with their templates and probe sets, then the warning when they differ."""
    lines = []
    for side in ("a", "b"):
        m, t = data["models"][side], (data.get("templates") or {}).get(side) or {}
        p = (data.get("probe_sets") or {}).get(side) or {}
        lines += [f"{side.upper()}  {data[side]}  {m['name']} {m['version'] or ''}  verdict {data['verdict'][side]}",
                  f"   template {t.get('name')} v{t.get('version')} (sha256 {str(t.get('sha256') or '')[:12]}); "
                  f"probes {p.get('spec')}, {p.get('count')} (sha256 {str(p.get('sha256') or '')[:12]})"]
    if not data["same_model_name"]:
        lines.append("note: the two audits are of differently named models")
    if data.get("comparable", True):
        lines.append("Same template and probe set: every check run in both audits is compared.")
    else:
        lines += ["", "WARNING: these audits are not comparable as a whole; what was not measured the same way "
                      "in both is marked 'not compared', never better or worse:"]
        lines += [f"  - {reason}" for reason in data.get("reasons") or []]
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def cmd_reevaluate(args: argparse.Namespace) -> int:
    from auditor.api import reevaluate
    from auditor.cli import matches_fail_on

    data = reevaluate(args.audit_id, args.template, args.db, actor=args.actor, signer=_signer(args))
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(f"Audit {data['audit_id']}: evaluation {data['evaluation_id']} with template "
              f"{data['template']['name']} v{data['template']['version']}: verdict {data['verdict']} "
              f"(was {data['previous_verdict']}); earlier evaluations are kept.\n"
              f"Fingerprint: {data['fingerprint']}")
        if data["checks_not_in_audit"]:
            print(f"note: not in the stored audit, so not evaluated: {', '.join(data['checks_not_in_audit'])}")
    return 1 if matches_fail_on(data["verdict"], args.fail_on) else 0


def cmd_sign(args: argparse.Namespace) -> int:
    from auditor.api import sign_audit

    data = sign_audit(args.audit_id, args.role, args.name, args.decision, args.db, signer=_signer(args))
    print(json.dumps(data, ensure_ascii=False) if args.json else
          f"Audit {data['audit_id']} signed by {data['name']} as {data['role']}"
          + (f": {data['decision']}" if data["decision"] else "")
          + f" (fingerprint {str(data['fingerprint'])[:16]})")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    from auditor.api import assign_finding

    data = assign_finding(args.audit_id, args.finding_id, owner=args.owner, due=args.due, actor=args.actor,
                          db=args.db, signer=_signer(args))
    print(json.dumps(data, ensure_ascii=False) if args.json else
          f"Finding {data['finding_id']} of audit {data['audit_id']}: "
          + ", ".join(f"{k} {v or '(cleared)'}" for k, v in data.items() if k in ("owner", "due")))
    return 0


def _signer(args: argparse.Namespace) -> Any:
    from auditor.cli import signer_of

    return signer_of(args)


def cmd_report(args: argparse.Namespace) -> int:
    from reports.commands import cmd_report as run

    return int(run(args))


def cmd_verify_report(args: argparse.Namespace) -> int:
    from reports.commands import cmd_verify_report as run

    return int(run(args))


COMMANDS = {"compare": cmd_compare, "reevaluate": cmd_reevaluate, "sign": cmd_sign, "assign": cmd_assign,
            "report": cmd_report, "verify-report": cmd_verify_report}
