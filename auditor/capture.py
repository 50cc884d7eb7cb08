"""The one capture pass: every probe batch through the model once, feeding all checks."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from auditor.errors import Cancelled
from auditor.messages import Message
from auditor.models.base import Capability, GradientCapable, ModelAdapter, capture_points
from auditor.progress import Progress, never, no_progress
from auditor.trace import Trace, TraceBatch


class Accumulator(Protocol):
    """What the pass feeds: statistics a check gathers batch by batch (checks.base.Accumulator)."""

    def update(self, batch: TraceBatch) -> None: ...


@runtime_checkable
class WantsGradients(Protocol):
    """An accumulator that asks for the gradient pass of its task (None: no task could be built)."""

    gradient_task: Any


def capture_pass(adapter: ModelAdapter, probes: Any, points: frozenset[str],
                 accumulators: Mapping[str, Accumulator], *, batch_size: int = 16, retain: bool = True,
                 progress: Progress = no_progress, should_stop: Callable[[], bool] = never,
                 order: np.ndarray | None = None, task: Any = None) -> Trace:
    """Run the probe set through the model in batches; checks' accumulators see every batch.

    `order` is the sequence in which probes go through (the runner puts the fit split first, so
    streaming estimators can finish fitting before the first held-out probe arrives); every
    captured batch carries the original probe indices. The Trace keeps the batches only when
    `retain`; pooled states are always kept because they are small ([N, d] per layer).

    With the gradients point, the pass also runs the gradient pass (one backward per batch)
    for the gradient `task`: the one given, or the one an accumulator offers as its
    `gradient_task` (WantsGradients; checks that need gradients share one task through the context).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        # the model's runtime owns the cores during the pass; numpy's BLAS threads spinning beside
        # its threads made the checks' per-batch statistics up to 30x slower on 2 cores
        return _capture(adapter, probes, points, accumulators, batch_size, retain, progress, should_stop,
                        order, task)


def _capture(adapter: ModelAdapter, probes: Any, points: frozenset[str], accumulators: Mapping[str, Accumulator],
             batch_size: int, retain: bool, progress: Progress, should_stop: Callable[[], bool],
             order: np.ndarray | None, task: Any) -> Trace:
    # per-probe rows (pooled states, predictions) are allocated once for the whole probe set
    trace = Trace(retained=retain, pooling=adapter.identity.pooling, capacity=int(probes.count))
    points = capture_points(points)
    if task is None and Capability.GRADIENTS in points:
        task = next((a.gradient_task for a in accumulators.values()
                     if isinstance(a, WantsGradients) and a.gradient_task is not None), None)
    if not isinstance(adapter, GradientCapable):
        task = None   # onnxruntime and other inference-only runtimes take no task
    total = max(int(probes.count), 1)
    view = probes if order is None else probes.subset(order)
    done = 0
    progress(0.0, Message("progress.capture.start"))
    for batch in adapter.batches(view, batch_size):
        if should_stop():
            raise Cancelled("capture")
        if order is not None:   # the model sees probe indices, so seeds and splits follow the probe
            batch.index = np.asarray(order)[batch.index]
        captured = adapter.capture(batch, points, task=task) if task is not None else adapter.capture(batch, points)
        captured.inputs = batch
        for check_id, accumulator in accumulators.items():
            began = time.perf_counter()
            accumulator.update(captured)
            trace.accumulator_seconds[check_id] = trace.accumulator_seconds.get(check_id, 0.0) + \
                time.perf_counter() - began
        trace.add(captured)
        done += batch.size
        progress(done / total, Message("progress.capture.probes", {"done": done, "total": total}))
    if task is not None and isinstance(adapter, GradientCapable):
        trace.grad_norm_params = adapter.parameter_gradient_norms()
    return trace
