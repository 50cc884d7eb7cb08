"""Running one audit: inputs checked before any row exists, the model loaded, the checks run, the results
stored and evaluated, the audit sealed. auditor.api re-exports what callers use (run_audit, AuditRequest)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor import environment
from auditor.errors import AuditFailed, AuditorError, BadInput, Cancelled
from auditor.messages import Message
from auditor.progress import Progress, ProgressCallback, never
from auditor.store import open_db, records

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
    batch_size: int | str = 16          # a positive number, or "auto" (auditor.memory_plan chooses it)
    dtype: str = "auto"                 # the precision policy (auditor.models.precision)
    skip_bad_probes: bool = False
    # who signs the audit's events (an auditor.identity Signer); None: this installation's machine key
    signer: Any = None
    # counterfactual pairs file for perturbation.counterfactual (--pairs); None: the built-in pairs
    pairs: str | None = None


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
    from auditor.models.load import load_model

    bar = Progress(progress)
    began = time.perf_counter()
    template, probes = _checked_inputs(request)
    pairs = _checked_pairs(request)
    signer = signer_for_run(request)
    model_path = Path(request.model).expanduser()
    # planned before any weights are read (or the database is opened): exit 2 here when the weights alone
    # cannot fit (auditor.memory_plan)
    plan, batch_size = _memory_plan(request, template, probes, model_path)
    db = open_db(request.db)
    bar(0.01, Message("progress.audit.loading"))
    adapter = load_model(model_path, tokenizer=request.tokenizer, layer_outputs=request.layer_outputs,
                         device=request.device, dtype=request.dtype)
    try:
        reference = _load_reference(request, model_path)
    except BaseException:
        adapter.close()
        raise
    run = _Run(request=request, template=template, probes=probes, adapter=adapter, reference=reference,
               model_path=model_path, load_s=time.perf_counter() - began, signer=signer, pairs=pairs,
               batch_size=batch_size, memory_plan=plan)
    _seed_everything(request.seed)
    audit_id = _create_audit_row(db, run)
    try:
        _run_and_store(db, audit_id, run, bar, should_stop)
        return audit_id
    except (Cancelled, KeyboardInterrupt):
        records.fail_audit(db, audit_id, "cancelled by the user", status="cancelled", signer=signer)
        raise Cancelled(f"audit {audit_id} was cancelled; it is recorded as cancelled") from None
    except AuditorError as exc:
        records.fail_audit(db, audit_id, str(exc), signer=signer)
        raise
    except MemoryError:
        records.fail_audit(db, audit_id, "out of memory", signer=signer)
        raise AuditFailed(f"audit {audit_id} ran out of memory; try --limit or a smaller --batch-size") from None
    except Exception as exc:
        records.fail_audit(db, audit_id, f"{type(exc).__name__}: {exc}", signer=signer)
        raise AuditFailed(f"audit {audit_id} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        adapter.close()
        if reference is not None:
            reference.close()


@dataclass
class _Run:
    """What one audit run works with once its inputs are checked and its model is loaded."""

    request: AuditRequest
    template: Any
    probes: Any
    adapter: Any
    reference: Any
    model_path: Path
    load_s: float
    signer: Any = None
    environment: dict[str, Any] = field(default_factory=dict)
    pairs: Any = None      # the user's PairSet (--pairs), or None for the built-in pairs
    batch_size: int = 16   # what the capture pass runs with (the memory plan's choice under --batch-size auto)
    memory_plan: dict[str, Any] | None = None   # auditor.memory_plan's record, stored in the environment


def signer_for_run(request: AuditRequest) -> Any:
    """The request's Signer, else this installation's machine key (loaded before any work, so a broken
    identity folder is refused up front)."""
    if request.signer is not None:
        return request.signer
    from auditor.identity import machine_signer

    return machine_signer()


def _checked_inputs(request: AuditRequest) -> tuple[Any, Any]:
    """The template and the probe set, or BadInput before anything is loaded or stored."""
    from auditor.probes import load_probes
    from auditor.templates import load_template

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
    return template, probes


def _memory_plan(request: AuditRequest, template: Any, probes: Any, model_path: Path) -> tuple[dict[str, Any], int]:
    """The memory plan's record and the batch size to run with. A refusal (the weights cannot fit) is BadInput;
    a plan that could not be made for another reason is recorded as such, and auto falls back to the default."""
    from auditor.memory_plan import DEFAULT_BATCH, plan_audit, resolve
    from auditor.models.precision import checkpoint_dtype, resolve_dtype

    auto = request.batch_size == "auto"
    try:
        device = resolve(request.device)
        folder = model_path if model_path.is_dir() else model_path.parent
        dtype = resolve_dtype(request.dtype, device, checkpoint_dtype(folder))
        plan = plan_audit(model_path, template=template, probes=probes, device=device, dtype=dtype,
                          batch_size=None if auto else int(request.batch_size))
    except AuditorError:
        raise
    except Exception as exc:  # the plan is evidence about the run, never a reason to refuse a model that loads
        batch = DEFAULT_BATCH if auto else int(request.batch_size)
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return {"error": detail, "batch_size": batch, "auto": auto,
                "summary": f"no memory plan could be made ({detail}); batch size {batch}"}, batch
    return plan.to_dict(), plan.batch_size


def _checked_pairs(request: AuditRequest) -> Any:
    """The user's counterfactual pairs (--pairs), read under the probe files' strict rules; None without."""
    if not request.pairs:
        return None
    from auditor.probes.pairs import load_pairs

    path = Path(request.pairs).expanduser()
    if not path.is_file():
        raise BadInput(f"--pairs {request.pairs}: no such file")
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise BadInput(f"--pairs {request.pairs}: a pairs file is .csv or .jsonl (text_a, text_b, attribute)")
    pairs = load_pairs(path, skip_bad=request.skip_bad_probes, name=str(request.pairs))
    if not pairs.count:
        raise BadInput(f"--pairs {request.pairs}: no pairs in the file")
    return pairs


def _create_audit_row(db: Any, run: _Run) -> str:
    """The `running` audit row, with the environment as known before any check runs."""
    from auditor.governance import template_row

    request, adapter = run.request, run.adapter
    meta = {k: v for k, v in request.meta.items() if k not in ("name", "version")}
    if run.signer is not None and not getattr(run.signer, "machine", False) and not meta.get("preparer"):
        meta["preparer"] = run.signer.name     # a person's identity prepares the audit
    name = request.name or request.meta.get("name") or default_model_name(run.model_path)
    version = request.model_version or request.meta.get("version") or ""
    run.environment = environment.describe(adapter.device)
    run.environment.update({"seed": request.seed, "batch_size": run.batch_size, "memory_plan": run.memory_plan,
                            "model_path": str(run.model_path.resolve()),
                            "compute_dtype": adapter.identity.details.get("compute_dtype"),
                            # the precision policy: what was asked for and what the model ran in
                            "dtype_requested": request.dtype,
                            "dtype": getattr(adapter, "compute_dtype", None) or adapter.identity.dtype,
                            "reference": request.reference})
    return records.create_audit(
        db, identity=adapter.identity.to_dict(), probes=run.probes.describe(), template=template_row(run.template),
        meta=meta, environment=run.environment, seed=request.seed, device=adapter.device, name=name,
        model_version=version, signer=run.signer)


def _run_and_store(db: Any, audit_id: str, run: _Run, bar: Progress, should_stop: Callable[[], bool]) -> None:
    """Run the checks, store their results, evaluate the template and seal the audit `completed`."""
    from auditor import findings as findings_mod
    from auditor.checks.base import AuditContext
    from auditor.governance import record_evaluation
    from auditor.runner import build_checks, run_checks
    from auditor.trace import Trace

    adapter, probes, template = run.adapter, run.probes, run.template
    checks = build_checks(template)
    ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(),
                       probes=probes, model_path=run.model_path, seed=run.request.seed, device=adapter.device,
                       adapter=adapter, should_stop=should_stop, reference=run.reference,
                       shared={} if run.pairs is None else {"counterfactual_pairs": run.pairs})
    run_began = time.perf_counter()
    results = run_checks(checks, ctx, batch_size=run.batch_size, progress=bar.slice(0.02, 0.95),
                         should_stop=should_stop)
    bar(0.97, Message("progress.audit.storing"))
    timings = {"load_s": round(run.load_s, 3), "checks_s": round(time.perf_counter() - run_began, 3)}
    fed = adapter.probes_fed > 0      # counted as the adapter encodes them
    run.environment.update({"input_notes": adapter.notes(), "timings": timings, "probes_fed": fed})
    records.update_environment(db, audit_id, run.environment)
    if not fed:
        records.record_probes_not_fed(db, audit_id, probes.describe())
    records.store_results(db, audit_id, [result_row(r) for r in results])
    found = findings_mod.evaluate(template, results, probe_count=probes.count, probes_fed=fed,
                                  why_not_fed=findings_mod.why_not_fed(adapter.identity.details))
    verdict = findings_mod.audit_verdict(results, found)
    evaluation_id = record_evaluation(db, audit_id, template, results, found, verdict, reason="initial")
    records.mark_finished_at(db, audit_id)
    seal = records.evaluation_seal(db, audit_id, evaluation_id)
    # the signed `completed` event holds the fingerprint: editing a stored figure later breaks it (auditor.verify)
    records.finish_audit(db, audit_id, verdict=verdict, fingerprint=seal["fingerprint"], seal=seal, signer=run.signer)
    bar(1.0, Message("progress.audit.complete"))


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
