"""A small shared thread pool for independent numpy work inside the capture pass.

numpy's matrix products and array loops release the GIL, so independent per-step statistics can
run side by side even while numpy's BLAS is limited to one thread. Idle workers wait on a queue
(they do not spin), so they take nothing from the model's own threads.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

_WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None
_T = TypeVar("_T")


def run_all(tasks: list[Callable[[], _T]]) -> list[_T]:
    """Runs independent tasks, on the shared workers where there is more than one core; results in order."""
    global _pool
    if _WORKERS == 1 or len(tasks) < 2:
        return [task() for task in tasks]
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="auditor-work")
    futures = [_pool.submit(task) for task in tasks]
    return [future.result() for future in futures]


def _forget_pool() -> None:
    global _pool
    _pool = None        # a forked child has none of the parent's worker threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
