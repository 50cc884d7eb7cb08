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
from auditor.messages import Message, has, verbatim
from auditor.models.base import Capability, missing_reasons, supported
from auditor.progress import Progress, never, no_progress
from auditor.templates import Template

# why a check that needs a capability is skipped when the adapter gives no reason of its own
MISSING = {capability: Message(f"capability.missing.{capability.value}") for capability in Capability}
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
    if ctx.adapter is not None:
        # a declared capability counts only when the adapter implements its protocol (models.base)
        ctx.capabilities = supported(ctx.adapter, ctx.capabilities)
    # the adapter's own reason for a missing capability names this model's way out; MISSING is generic
    reasons = {**MISSING, **missing_reasons(ctx.adapter)}
    for check in checks:
        missing = sorted(check.requires - ctx.capabilities, key=lambda c: c.value)
        if missing:
            # one reason often covers several capabilities: say it once
            said = {repr(reasons[c].to_json()): reasons[c] for c in missing}
            skipped[check.id] = CheckResult.skipped(check.id, *said.values())
            continue
        reason = check.skip_reason(ctx)
        if reason is None and check.needs_batches and ctx.probes.count > RETAIN_LIMIT:
            reason = Message("runner.retain_limit", {"probes": int(ctx.probes.count), "limit": RETAIN_LIMIT})
        if reason is not None:
            skipped[check.id] = CheckResult.skipped(check.id, reason)
            continue
        active.append(check)

    points = frozenset().union(*(c.captures for c in active)) if active else frozenset()
    start = 0.0
    if points:
        fit, score = ctx.fit_score_split()
        ctx.accumulators = {c.id: acc for c in active if (acc := c.accumulator(ctx)) is not None}
        ctx.trace = capture_pass(ctx.adapter, ctx.probes, points | {Capability.HIDDEN_STATES}, ctx.accumulators,
                                 batch_size=batch_size, retain=any(c.needs_batches for c in active),
                                 progress=progress.slice(0.0, CAPTURE_SHARE, "capture", Message("progress.capture")),
                                 should_stop=should_stop, order=np.concatenate([fit, score]))
        start = CAPTURE_SHARE

    results: dict[str, CheckResult] = dict(skipped)
    share = (1.0 - start) / max(len(active), 1)
    for i, check in enumerate(active):
        if should_stop():
            raise Cancelled(check.id)
        ctx.progress = progress.slice(start + i * share, share, check.id, _step(check.id))
        ctx.progress(0.0, Message("progress.check.running"))
        result = _run_one(check, ctx)
        # a streaming check does most of its work inside the capture pass: count it as its own time
        streamed = ctx.trace.accumulator_seconds.get(check.id, 0.0)
        results[check.id] = replace(result, duration_s=result.duration_s + streamed)
        ctx.progress(1.0, Message("progress.check.done"))
    return [results[c.id] for c in checks]


def _run_one(check: Check, ctx: AuditContext) -> CheckResult:
    began = time.perf_counter()
    try:
        result = check.run(ctx)
        result = replace(result, metrics=clean_metrics(result.metrics), evidence=clean_evidence(result.evidence))
    except Cancelled:
        raise
    except Exception as exc:  # one broken check must not take the audit down (docs/ARCHITECTURE.md, Runner)
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return CheckResult.error(check.id, detail, time.perf_counter() - began)
    return replace(result, duration_s=time.perf_counter() - began)


def _step(check_id: str) -> Message:
    """A check's name in progress lines: its catalogue title, or its id where it has none."""
    key = f"check.{check_id}.title"
    return Message(key) if has(key) else verbatim(check_id)
