"""`auditor verify [AUDIT_ID] [--db PATH] [--json]`: the signed chain, signatures and fingerprints (auditor.verify).

Exit 0: everything checked matches; 1: a problem (each on one line, the first first); 2: bad input.
"""
from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    verify = sub.add_parser("verify", help="check the signed event chain, every signature and every stored figure")
    verify.add_argument("audit_id", nargs="?", metavar="AUDIT_ID", help="one audit's figures (default: every audit)")
    verify.add_argument("--db", metavar="PATH")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument("--allow-unsigned", action="store_true",
                        help="audits recorded before signing existed are listed, not counted as problems")
    verify.add_argument("--require-trust", action="store_true",
                        help="a signer that `auditor trust add` does not name is a problem, not a note")


def cmd_verify(args: argparse.Namespace) -> int:
    from auditor.api import verify_audit
    from auditor.messages import Message, render

    result = verify_audit(args.audit_id, args.db, allow_unsigned=args.allow_unsigned,
                          require_trust=args.require_trust)
    checked = result.checked
    if args.json:
        print(json.dumps({"ok": result.ok, "audit_id": args.audit_id,
                          "problems": [render(m, "en") for m in result.problems],
                          "problem_keys": [m.key for m in result.problems],
                          "notes": [render(m, "en") for m in result.notes], "checked": checked},
                         ensure_ascii=False))
        return 0 if result.ok else 1
    lines = []
    if "signed" in checked:
        lines += [render(Message("verify.checked.chain", {"events": checked["events"]}), "en"),
                  render(Message("verify.checked.signatures", {"signed": checked["signed"],
                                                               "legacy": checked["unsigned_before_signing"]}), "en"),
                  render(Message("verify.checked.fingerprints", {"audits": checked["audits"],
                                                                 "scope": checked["audits_in_scope"],
                                                                 "evaluations": checked["evaluations"]}), "en")]
        if checked.get("statements"):
            lines.append(render(Message("verify.checked.statements", {"count": checked["statements"]}), "en"))
    if checked.get("signers"):
        lines.append(render(Message("verify.checked.signers"), "en"))
        lines += [render(Message("verify.checked.signer", {
            "name": s["name"], "role": s["role"], "fingerprint": s["fingerprint"][:16] + "…", "events": s["events"],
            "trust": Message(f"verify.trust.{s['trust']}")}), "en") for s in checked["signers"]]
    lines += [render(Message("verify.note", {"text": m}), "en") for m in result.notes]
    lines += [f"✗ {render(m, 'en')}" for m in result.problems]
    lines.append(render(Message("verify.result.ok"), "en") if result.ok else
                 render(Message("verify.result.broken", {"count": len(result.problems)}), "en"))
    print("\n".join(lines))
    return 0 if result.ok else 1


COMMANDS = {"verify": cmd_verify}
