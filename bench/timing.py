"""Shared timing helpers for the benchmarks: best-of-N wall time and the plain forward pass F."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of `repeats` runs, in seconds (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def prepared_forward(adapter: Any, probes: Any, batch_size: int) -> tuple[list[Any], Callable[[], None]]:
    """The encoded batches and a function running F: one plain forward pass over them (docs/METHODS.md, Cost).

    Two batches run first as a warm-up (allocator, kernels, transformers' lazy hooks).
    """
    batches = list(adapter.batches(probes, batch_size))
    for batch in batches[:2]:
        adapter.forward(batch)

    def plain() -> None:
        for batch in batches:
            adapter.forward(batch)

    return batches, plain
