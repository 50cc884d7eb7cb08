"""The terminal's text: `auditor show`'s summary and `auditor list`'s table (the CLI and the client share them)."""
from __future__ import annotations

import json
from typing import Any

SYMBOL = {"pass": "✓", "warn": "!", "fail": "✗", "error": "?", "skipped": "–", "info": "i", "inconclusive": "?"}


def print_audit_list(rows: list[dict[str, Any]], as_json: bool) -> int:
    """`auditor list`'s output, local or from a service (auditor.client_commands)."""
    if as_json:
        print(json.dumps({"audits": rows}, ensure_ascii=False))
        return 0
    if not rows:
        print("no audits stored yet; run `auditor audit MODEL` or `auditor demo`")
        return 0
    print(f"{'AUDIT ID':<24} {'STATUS':<11} {'VERDICT':<14} {'MODEL':<28} {'VERSION':<10} {'STARTED (UTC)'}")
    for r in rows:
        verdict = f"{SYMBOL.get(r['verdict'] or '', ' ')} {r['verdict'] or '-'}"
        print(f"{r['audit_id']:<24} {r['status']:<11} {verdict:<14} {(r['name'] or '')[:28]:<28} "
              f"{(r['version'] or '')[:10]:<10} {r['started_at']}")
    return 0


def _template_line(data: dict[str, Any]) -> str:
    evaluation = data.get("evaluation") or {}
    if evaluation.get("template_name"):
        count = len(data.get("evaluations") or [])
        note = f" (evaluation {evaluation['id']} of {count}: {evaluation['reason']})" if count > 1 else ""
        return f"Template: {evaluation['template_name']} v{evaluation['template_version']}{note}"
    return f"Template: {data['template']['name']} v{data['template']['version']}"


def _probes_line(probes: dict[str, Any]) -> str:
    offered = probes.get("offered")
    if probes.get("spec") == "none" and offered:
        return (f"Probes:   none reached the model ({offered.get('spec')}, {offered.get('count')} probes, was offered "
                "but could not be fed)")
    return (f"Probes:   {probes.get('spec')} ({probes.get('count')} probes, sha256 "
            f"{(probes.get('sha256') or '')[:16]}…)")


def _ran_on_lines(env: dict[str, Any]) -> list[str]:
    """Where and in which precision the model ran, and the memory plan made before loading it."""
    if not env.get("device"):
        return []
    dtype = env.get("dtype") or env.get("compute_dtype")
    asked = env.get("dtype_requested")
    line = f"Ran on:   {env['device']}" + (f" in {dtype}" if dtype else "") + \
        (f" (asked for {asked})" if asked and asked not in (dtype, "auto") else "") + \
        (f", batch size {env['batch_size']}" if env.get("batch_size") else "")
    plan = env.get("memory_plan") or {}
    return [line, *([f"Memory:   {plan['summary']}"] if plan.get("summary") else [])]


def format_audit(data: dict[str, Any], db: str | None) -> str:
    """A readable summary for a terminal."""
    from auditor.api import db_path

    model = data["model"]
    lines = [
        f"Audit {data['audit_id']}  status: {data['status']}  verdict: "
        f"{SYMBOL.get(data['verdict'] or '', '')} {data['verdict'] or '-'}",
        f"Model:    {model['name']} {model['version'] or ''} ({model['format']}, {model['architecture']}, "
        + (f"{model['layers']} layers, " if model["layers"] is not None else "no layers found, ")
        + (f"{model['parameters']:,} parameters)" if model["parameters"] is not None else "parameters unknown)"),
        f"SHA-256:  {model['sha256']}",
        *_ran_on_lines(data.get("environment") or {}),
        _probes_line(data["probes"]),
        *([f"Scope:    {scope['en']}"] if (scope := (model.get("details") or {}).get("audit_scope")) else []),
        _template_line(data),
    ]
    missing: dict[tuple[str, str], list[str]] = {}     # one line per reason, naming every check it stops
    for f in data["findings"]:
        if f["severity"] == "inconclusive":
            missing.setdefault((f["detail"], f["action"]), []).append(f["check_id"])
    if missing:
        lines += ["", "Inconclusive: evidence is missing, so no pass, warn or fail can be given. To get it:"]
        lines += [f"  ? {', '.join(checks)}: {detail}\n      → {action}" for (detail, action), checks in missing.items()]
        lines.append("")
    ratings = data.get("ratings") or {}
    if ratings:
        lines.append("Ratings:  " + ", ".join(
            f"{dim} {SYMBOL.get(r['rating'], '–')} {r['rating']}" + (f" ({r['trend']})" if r.get("trend") else "")
            for dim, r in ratings.items()))
    if data.get("previous_audit_id"):
        lines.append(f"Previous: {data['previous_audit_id']} (auditor compare {data['previous_audit_id']} "
                     f"{data['audit_id']})")
    lines += ["", "Checks:"]
    for check in data["checks"]:
        lines.append(f"  {SYMBOL.get(check['status'], ' ')} {check['status']:<12} {check['id']:<28} {check['summary']}")
    if data["findings"]:
        lines += ["", "Findings:"]
        for f in data["findings"]:
            who = "".join(f"; {k} {f[k]}" for k in ("owner", "due") if f.get(k))
            lines.append(f"  [{f.get('id', '-')}] {SYMBOL.get(f['severity'], ' ')} {f['severity']:<12} {f['title']}: "
                         f"{f['detail']}{who}")
    for s in data.get("signoffs") or []:
        lines.append(f"Signed:   {s['role']} {s['name']} at {s['at']}" + (f": {s['decision']}" if s.get("decision") else ""))
    if data.get("error"):
        lines += ["", f"Error: {data['error']}"]
    lines += ["", f"Fingerprint: {data['fingerprint'] or '-'}", f"Database:    {db_path(db)}",
              f"Details:     auditor show {data['audit_id']} --json" + (f" --db {db}" if db else "")]
    return "\n".join(lines)
