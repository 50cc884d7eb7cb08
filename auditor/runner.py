"""Runs a template's checks: capture once, then each check with error isolation, timings, skips."""
from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from auditor.capture import capture_pass
from auditor.checks.base import AuditContext, Check, CheckResult, clean_evidence, clean_metrics
from auditor.checks.registry import get as get_check
from auditor.errors import Cancelled
from auditor.models.base import Capability
from auditor.progress import Progress, never, no_progress
from auditor.templates import Template

MISSING = {
    Capability.HIDDEN_STATES: "the model exposes no layer-by-layer hidden states (it is not a layered "
                              "transformer, or its ONNX layer outputs could not be found; --layer-outputs can name them)",
    Capability.ATTENTIONS: "the model exposes no attention maps",
    Capability.GRADIENTS: "the model format has no gradients (ONNX runtimes run inference only)",
    Capability.INTERVENTIONS: "the model format allows no interventions on activations (ONNX)",
    Capability.LOGITS: "the model has no output head with predictions",
}
# share of the progress bar for the capture pass when any check needs it
CAPTURE_SHARE = 0.6
RETAIN_LIMIT = 2048   # above this many probes, checks that need whole batches are skipped


def build_checks(template: Template) -> list[Check]:
    return [get_check(spec.id)(**spec.params) for spec in template.checks]


def run_checks(checks: list[Check], ctx: AuditContext, *, batch_size: int = 16,
               progress: Progress = no_progress, should_stop: Callable[[], bool] = never) -> list[CheckResult]:
    """Every check's result, in template order; a failing check becomes an `error` result."""
    skipped: dict[str, CheckResult] = {}
    active: list[Check] = []
    # the adapter's own reason for a missing capability names this model's way out; MISSING is generic
    own = getattr(ctx.adapter, "unavailable", None) or {}
    reasons = {**MISSING, **{c: own[c.value] for c in Capability if own.get(c.value)}}
    for check in checks:
        missing = sorted(check.requires - ctx.capabilities, key=lambda c: c.value)
        if missing:
            # one reason often covers several capabilities: say it once
            said = dict.fromkeys(reasons[c] for c in missing)
            skipped[check.id] = CheckResult.skipped(check.id, "; ".join(said))
            continue
        reason = check.skip_reason(ctx)
        if not reason and check.needs_batches and ctx.probes.count > RETAIN_LIMIT:
            reason = (f"this check holds every layer state in memory and the probe set has {ctx.probes.count} "
                      f"probes (limit {RETAIN_LIMIT}); use --limit")
        if reason:
            skipped[check.id] = CheckResult.skipped(check.id, reason)
            continue
        active.append(check)

    points = frozenset().union(*(c.captures for c in active)) if active else frozenset()
    start = 0.0
    if points:
        fit, score = ctx.fit_score_split()
        ctx.accumulators = {c.id: acc for c in active if (acc := c.accumulator(ctx)) is not None}
        ctx.trace = capture_pass(ctx.adapter, ctx.probes, points | {"hidden"}, ctx.accumulators,
                                 batch_size=batch_size, retain=any(c.needs_batches for c in active),
                                 progress=progress.slice(0.0, CAPTURE_SHARE, "capture"), should_stop=should_stop,
                                 order=np.concatenate([fit, score]))
        start = CAPTURE_SHARE

    results: dict[str, CheckResult] = dict(skipped)
    share = (1.0 - start) / max(len(active), 1)
    for i, check in enumerate(active):
        if should_stop():
            raise Cancelled(check.id)
        ctx.progress = progress.slice(start + i * share, share, check.id)
        ctx.progress(0.0, "running")
        result = _run_one(check, ctx)
        # a streaming check does most of its work inside the capture pass: count it as its own time
        streamed = ctx.trace.accumulator_seconds.get(check.id, 0.0)
        results[check.id] = replace(result, duration_s=result.duration_s + streamed)
        ctx.progress(1.0, "done")
    return [results[c.id] for c in checks]


def _run_one(check: Check, ctx: AuditContext) -> CheckResult:
    began = time.perf_counter()
    try:
        result = check.run(ctx)
        result = replace(result, metrics=clean_metrics(result.metrics), evidence=clean_evidence(result.evidence))
    except Cancelled:
        raise
    except Exception as exc:  # one broken check must not take the audit down (ARCHITECTURE.md, Runner)
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return CheckResult.error(check.id, detail, time.perf_counter() - began)
    return replace(result, duration_s=time.perf_counter() - began)
