"""`auditor verify`: walks the signed event chain, every signature, and every stored figure against the
fingerprint its signed event holds.

What is checked, in this order (problems are listed first one first):
- the chain: each event's prev_hash is the previous event's hash, and its hash is recomputed from its
  content (auditor.store.chain); a deleted, inserted, reordered or edited event breaks one of these;
- each signature against the certificate stored for its signer (whose fingerprint is recomputed); an
  unsigned event after the first signed one is a problem; a signature by a revoked identity on an event
  after its `identity.revoked` event is a problem, earlier ones stay valid;
- each completed audit in scope: its stored content (queries.stored_content, the app's own fingerprint)
  against the fingerprint its signed `completed` event holds, the parts that differ named
  (fingerprint.part_digests); every evaluation against its signed event (`completed` for the first,
  `re-evaluated` for later ones), its check statuses and ratings too; owners and due dates against the
  signed assignments; the audit's verdict and fingerprint columns.

Rules: an audit recorded before signing existed (its events unsigned, before any signed event) is
reported "not signed" and never verified: a problem (exit 1) unless `allow_unsigned`. A signer neither
trusted (`auditor trust add`: its certificate or its issuing CA) nor this installation's machine key is
listed "not trusted": a note, a problem only with `require_trust`.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from auditor.messages import Message
from auditor.store import chain, queries
from auditor.store.fingerprint import fingerprint_of, part_digests
from auditor.verify_statements import check_statements


@dataclass
class VerifyResult:
    """ok: nothing broken (and nothing unsigned or untrusted where that was asked to count); problems
    first one first; notes (unsigned audits allowed, untrusted signers); checked: counts and signers."""

    ok: bool
    problems: list[Message] = field(default_factory=list)
    checked: dict[str, Any] = field(default_factory=dict)
    notes: list[Message] = field(default_factory=list)


@dataclass
class _Walk:
    problems: list[Message] = field(default_factory=list)
    events: int = 0
    signed: int = 0
    legacy: int = 0
    legacy_ids: set[int] = field(default_factory=set)
    bad_ids: set[int] = field(default_factory=set)
    uses: dict[str, int] = field(default_factory=dict)
    trusted: list[str] = field(default_factory=list)    # certificates added with `auditor trust add`
    by_audit: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    revoked: dict[str, int] = field(default_factory=dict)  # certificate fingerprint -> the revoking event


def verify(db: sqlite_utils.Database, audit_id: str | None = None, *, allow_unsigned: bool = False,
           require_trust: bool = False) -> VerifyResult:
    """The whole chain, and the figures of `audit_id` (every audit when None)."""
    audit_ids = [queries.audit_row(db, audit_id)["id"]] if audit_id is not None else \
        [r[0] for r in db.execute("SELECT id FROM audits ORDER BY started_at, rowid").fetchall()]
    columns = {c.name for c in db["events"].columns}
    if "hash" not in columns:       # read-only media written before migration 4: nothing can be checked
        version = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM _migrations").fetchone()[0])
        problem = Message("verify.problem.predates", {"version": version})
        return VerifyResult(ok=False, problems=[problem], checked={"events": 0, "audits": len(audit_ids)})
    certificates = _certificates(db)
    walk = _walk_chain(db, certificates)
    problems = [m for fp, c in certificates.items() if (m := c.get("problem"))] + walk.problems
    statement_problems, statements = check_statements(walk.by_audit, certificates, walk.revoked, walk.bad_ids)
    problems += statement_problems
    notes: list[Message] = []
    audits = evaluations = 0
    for aid in audit_ids:
        outcome = _check_audit(db, aid, walk)
        if outcome == "unsigned":
            (notes if allow_unsigned else problems).append(Message("verify.problem.unsigned_audit", {"audit": aid}))
        elif isinstance(outcome, list):
            problems += outcome
        elif isinstance(outcome, int):
            audits, evaluations = audits + (outcome > 0), evaluations + outcome
    signers = _signers(certificates, walk)
    for s in signers:
        if s["trust"] == "untrusted":
            message = Message("verify.problem.untrusted", {"name": s["name"], "role": s["role"],
                                                           "fingerprint": s["fingerprint"][:16]})
            (problems if require_trust else notes).append(message)
    checked = {"events": walk.events, "signed": walk.signed, "statements": statements,
               "unsigned_before_signing": walk.legacy,
               "audits": audits, "evaluations": evaluations, "audits_in_scope": len(audit_ids),
               "signers": signers, "head": chain.head(db)}
    return VerifyResult(ok=not problems, problems=problems, checked=checked, notes=notes)


def _certificates(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    from auditor.identity import certificate_facts

    out: dict[str, dict[str, Any]] = {}
    for fingerprint, cert_pem, name, role in db.execute(
            "SELECT fingerprint, cert_pem, name, role FROM certificates").fetchall():
        entry: dict[str, Any] = {"cert_pem": cert_pem, "name": name, "role": role}
        try:
            facts = certificate_facts(cert_pem)
        except Exception:  # an unreadable certificate is a finding about the database, not a crash
            facts = {}
        if facts.get("fingerprint") != fingerprint:
            entry["problem"] = Message("verify.problem.certificate", {"signer": fingerprint[:16]})
        else:
            entry.update(name=facts.get("name") or name, role=facts.get("role") or role)
        out[fingerprint] = entry
    return out


def _walk_chain(db: sqlite_utils.Database, certificates: dict[str, dict[str, Any]]) -> _Walk:
    from auditor.identity import verify_signature

    walk = _Walk()
    prev = chain.GENESIS
    revoked = walk.revoked
    rows = db.execute("SELECT id, audit_id, kind, detail_json, actor, at, prev_hash, hash, signature, signer "
                      "FROM events ORDER BY id").fetchall()
    for event_id, audit_id, kind, detail_json, actor, at, prev_hash, digest, signature, signer in rows:
        walk.events += 1
        try:
            detail = json.loads(detail_json or "{}")
        except ValueError:
            detail = None
        problem = None
        where = {"event": event_id, "kind": kind}
        if prev_hash != prev:
            problem = Message("verify.problem.link", where)
        elif detail is None or chain.event_hash(prev_hash, audit_id, kind, detail, actor, at, signer) != digest:
            problem = Message("verify.problem.hash", where)
        elif signature is None or signer is None:
            if walk.signed:
                problem = Message("verify.problem.unsigned", where)
            else:
                walk.legacy += 1
                walk.legacy_ids.add(event_id)
        elif signer not in certificates:
            problem = Message("verify.problem.no_certificate", {**where, "signer": str(signer)[:16]})
        elif not verify_signature(certificates[signer]["cert_pem"], chain.signing_bytes(digest), _b64(signature)):
            problem = Message("verify.problem.signature", {**where, "name": certificates[signer]["name"]})
        elif signer in revoked and revoked[signer] < event_id:
            problem = Message("verify.problem.revoked", {**where, "name": certificates[signer]["name"],
                                                        "revoked": revoked[signer]})
        else:
            walk.signed += 1
            walk.uses[signer] = walk.uses.get(signer, 0) + 1
        if problem is not None:
            walk.problems.append(problem)
            walk.bad_ids.add(event_id)
        detail = detail or {}
        if kind == "identity.revoked" and detail.get("fingerprint"):
            revoked.setdefault(str(detail["fingerprint"]), event_id)
        if kind == "trust.added" and detail.get("cert_pem"):
            walk.trusted.append(str(detail["cert_pem"]))
        if audit_id is not None:
            walk.by_audit.setdefault(audit_id, []).append({"id": event_id, "kind": kind, "detail": detail})
        # link to the stored hash: one edited event is one problem, not a cascade
        prev = digest
    return walk


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _check_audit(db: sqlite_utils.Database, audit_id: str, walk: _Walk) -> Any:
    """'unsigned' for an audit recorded before signing; a list of problems; or how many evaluations matched."""
    audit = queries.audit_row(db, audit_id)
    events = walk.by_audit.get(audit_id, [])
    if events and all(e["id"] in walk.legacy_ids for e in events):
        return "unsigned"
    if audit["status"] != "completed":
        return 0
    completed = [e for e in events if e["kind"] == "completed"]
    if not completed:
        return [Message("verify.problem.no_completed", {"audit": audit_id})]
    done = completed[-1]
    if done["id"] in walk.legacy_ids:
        return "unsigned"
    if done["id"] in walk.bad_ids:
        return []      # already named by the chain walk
    signed = {int(done["detail"].get("evaluation_id") or _first_evaluation(db, audit_id) or 0): done}
    signed.update({int(e["detail"]["evaluation_id"]): e for e in events
                   if e["kind"] == "re-evaluated" and e["detail"].get("fingerprint") and e["id"] not in walk.bad_ids
                   and e["detail"].get("evaluation_id") is not None})
    problems: list[Message] = []
    where = {"audit": audit_id, "event": done["id"]}
    matched = 0
    for (evaluation_id,) in db.execute("SELECT id FROM evaluations WHERE audit_id = ? ORDER BY id", [audit_id]):
        event = signed.get(int(evaluation_id))
        if event is None:
            problems.append(Message("verify.problem.unsigned_evaluation", {"audit": audit_id,
                                                                           "evaluation": evaluation_id}))
            continue
        found = _check_evaluation(db, audit_id, int(evaluation_id), event, first=event is done)
        problems += found
        matched += not found
    # the columns `list` and older readers show, after the content they summarise
    if audit["fingerprint"] != done["detail"].get("fingerprint") or audit["verdict"] != done["detail"].get("verdict"):
        problems.append(Message("verify.problem.audit_row", where))
    problems += _check_assignments(db, audit_id, events, walk)
    return problems or matched


def _first_evaluation(db: sqlite_utils.Database, audit_id: str) -> int | None:
    row = db.execute("SELECT MIN(id) FROM evaluations WHERE audit_id = ?", [audit_id]).fetchone()
    return row[0] if row else None


def _check_evaluation(db: sqlite_utils.Database, audit_id: str, evaluation_id: int, event: dict[str, Any],
                      first: bool) -> list[Message]:
    detail = event["detail"]
    where = {"audit": audit_id, "event": event["id"], "evaluation": evaluation_id}
    content = queries.stored_content(db, audit_id, evaluation_id)
    problems: list[Message] = []
    if fingerprint_of(content) != detail.get("fingerprint"):
        problems += _diagnose(content, detail.get("parts") or {}, where, first)
    stored = db.execute("SELECT fingerprint FROM evaluations WHERE id = ?", [evaluation_id]).fetchone()[0]
    if stored != detail.get("fingerprint"):
        problems.append(Message("verify.problem.fingerprint_column", where))
    if detail.get("read_model") and queries.read_model_digest(db, evaluation_id) != detail["read_model"]:
        problems.append(Message("verify.problem.statuses", where))
    return problems


def _diagnose(content: dict[str, Any], signed: dict[str, Any], where: dict[str, Any], first: bool) -> list[Message]:
    """Which parts of the content differ from the signed digests (the first evaluation's event signs them
    all; a re-evaluation's signs its findings, the rest being named by the first's)."""
    now = part_digests(content)
    problems = []
    if first and signed.get("record") and signed["record"] != now["record"]:
        problems.append(Message("verify.problem.record", where))
    if first and isinstance(signed.get("checks"), dict):
        for check_id in [*now["checks"], *(c for c in signed["checks"] if c not in now["checks"])]:
            if signed["checks"].get(check_id) != now["checks"].get(check_id):
                problems.append(Message("verify.problem.check", {**where, "check": check_id}))
    if signed.get("evaluation") and signed["evaluation"] != now["evaluation"]:
        problems.append(Message("verify.problem.evaluation", where))
    if not problems and first:
        problems.append(Message("verify.problem.content", where))
    return problems


def _check_assignments(db: sqlite_utils.Database, audit_id: str, events: list[dict[str, Any]],
                       walk: _Walk) -> list[Message]:
    """Each finding's owner and due date are what its signed `assigned` events set, in order (none: empty)."""
    expected: dict[int, dict[str, Any]] = {}
    for e in events:
        if e["kind"] == "assigned" and e["id"] not in walk.bad_ids and e["detail"].get("finding_id") is not None:
            state = expected.setdefault(int(e["detail"]["finding_id"]), {"owner": None, "due": None})
            state.update({k: e["detail"][k] for k in ("owner", "due") if k in e["detail"]})
    problems = []
    for finding_id, owner, due in db.execute("SELECT id, owner, due FROM findings WHERE audit_id = ? ORDER BY id",
                                             [audit_id]).fetchall():
        want = expected.get(int(finding_id), {"owner": None, "due": None})
        if (owner, due) != (want["owner"], want["due"]):
            problems.append(Message("verify.problem.assignment", {"audit": audit_id, "finding": finding_id}))
    return problems


def _signers(certificates: dict[str, dict[str, Any]], walk: _Walk) -> list[dict[str, Any]]:
    """Each signer that signed a valid event: name, role, fingerprint, how many events, and trust."""
    from auditor.identity import issued_by

    local = _local_machine_fingerprint()
    out = []
    for fingerprint, count in walk.uses.items():
        cert = certificates[fingerprint]
        if fingerprint == local:
            trust = "machine"
        elif any(_same_certificate(cert["cert_pem"], t) or issued_by(cert["cert_pem"], t) for t in walk.trusted):
            trust = "trusted"
        else:
            trust = "untrusted"
        out.append({"name": cert["name"], "role": cert["role"], "fingerprint": fingerprint, "events": count,
                    "trust": trust})
    return out


def _same_certificate(cert_pem: str, other_pem: str) -> bool:
    from auditor.identity import certificate_facts

    try:
        return bool(certificate_facts(cert_pem)["fingerprint"] == certificate_facts(other_pem)["fingerprint"])
    except Exception:  # a trusted entry that is not a certificate trusts nobody
        return False


def _local_machine_fingerprint() -> str | None:
    """This installation's machine key, if it has one (verify never creates one)."""
    from auditor.identity import machine_signer
    from auditor.identity.machine import machine_path

    try:
        return machine_signer().fingerprint if machine_path().is_file() else None
    except Exception:  # an unreadable machine key makes its signatures untrusted here, not a crash
        return None
