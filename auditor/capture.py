"""The one capture pass: every probe batch through the model once, feeding all checks."""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from auditor.checks.base import Accumulator
from auditor.errors import Cancelled
from auditor.models.base import ModelAdapter
from auditor.progress import Progress, never, no_progress
from auditor.trace import Trace


def capture_pass(adapter: ModelAdapter, probes: object, points: frozenset[str],
                 accumulators: Mapping[str, Accumulator], *, batch_size: int = 16, retain: bool = True,
                 progress: Progress = no_progress, should_stop: Callable[[], bool] = never,
                 order: np.ndarray | None = None) -> Trace:
    """Run the probe set through the model in batches; checks' accumulators see every batch.

    `order` is the sequence in which probes go through (the runner puts the fit split first, so
    streaming estimators can finish fitting before the first held-out probe arrives); every
    captured batch carries the original probe indices. The Trace keeps the batches only when
    `retain`; pooled states are always kept because they are small ([N, d] per layer).
    """
    trace = Trace(retained=retain, pooling=adapter.identity.pooling)
    total = max(getattr(probes, "count", 0), 1)
    view = probes if order is None else probes.subset(order)
    done = 0
    progress(0.0, "capturing layer states")
    for batch in adapter.batches(view, batch_size):
        if should_stop():
            raise Cancelled("capture")
        captured = adapter.capture(batch, points)
        if order is not None:
            captured.index = np.asarray(order)[captured.index]
        for accumulator in accumulators.values():
            accumulator.update(captured)
        trace.add(captured)
        done += batch.size
        progress(done / total, f"captured {done}/{total} probes")
    return trace
