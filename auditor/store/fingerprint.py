"""The audit fingerprint: SHA-256 of a canonical JSON of everything an audit stored."""
from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(content: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: the same content always gives the same bytes."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def fingerprint_of(content: Any) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


def part_digests(content: dict[str, Any]) -> dict[str, Any]:
    """Digests of the parts of `queries.stored_content`, signed beside the fingerprint so a verifier can
    name what changed: the record (model, probes, environment, metadata, template, times), each check
    (its result and its metrics) and the evaluation (findings and verdict)."""
    by_check: dict[str, list[Any]] = {}
    for row in content.get("metrics") or []:
        by_check.setdefault(str(row[0]), []).append(row)
    checks = {str(c["id"]): fingerprint_of({"result": c, "metrics": by_check.pop(str(c["id"]), [])})
              for c in content.get("checks") or []}
    checks.update({check_id: fingerprint_of({"result": None, "metrics": rows}) for check_id, rows in by_check.items()})
    record = {k: content.get(k) for k in ("audit_id", "model", "probes", "environment", "meta", "template",
                                          "started_at", "finished_at")}
    return {"record": fingerprint_of(record), "checks": checks, "evaluation": fingerprint_of(content.get("evaluation"))}
