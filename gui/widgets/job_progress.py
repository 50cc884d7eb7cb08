"""The latest progress of each running job on the service, read from its progress stream (SSE) on a daemon
thread per job: the queue page asks `latest(job_id)` on every refresh and never waits on the network.

A stream ends on its own when the job ends (`end` event); `stop()` (the window left the service, or the page
is gone) makes each thread return at its next event. A stream lost mid-run is simply dropped: the next
refresh of the queue starts a new follower for a job still running.
"""
from __future__ import annotations

import threading
from typing import Any


class JobProgress:
    """job ID -> its last `progress` event (fraction, step key and params, message)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, dict[str, Any]] = {}
        self._following: set[str] = set()
        self._generation = 0

    def latest(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._latest.get(job_id)

    def follow(self, source: Any, job_id: str) -> None:
        """Starts reading the job's stream unless it is already being read."""
        with self._lock:
            if job_id in self._following:
                return
            self._following.add(job_id)
            generation = self._generation
        threading.Thread(target=self._read, args=(source, job_id, generation), daemon=True,
                         name=f"progress-{job_id}").start()

    def stop(self) -> None:
        with self._lock:
            self._generation += 1
            self._following.clear()
            self._latest.clear()

    def _read(self, source: Any, job_id: str, generation: int) -> None:
        try:
            for event in source.events(job_id):
                with self._lock:
                    if generation != self._generation:
                        return
                    if event.name == "progress" and isinstance(event.data, dict):
                        self._latest[job_id] = event.data
                if event.name == "end":
                    break
        except Exception:  # noqa: S110 (a lost stream: the next refresh follows the job again if it still runs)
            pass
        finally:
            with self._lock:
                if generation == self._generation:
                    self._following.discard(job_id)
