"""Failed-authentication rate limiting per client address (issue 18).

A sliding window: an address that failed authentication `max_failures` times within the last
`window_s` seconds is refused (HTTP 429 with Retry-After) until its oldest failure leaves the
window. A success does not clear the count: an attacker holding one valid token could otherwise
reset it between guesses at others. Memory is bounded: at most `max_clients` addresses are tracked,
the least recently failed one forgotten first. Thread-safe (FastAPI runs plain routes in threads).
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class FailedAuthLimiter:
    """allow(ip) before authenticating; failed(ip) after a refused token; retry_after(ip) for the header."""

    def __init__(self, max_failures: int = 10, window_s: float = 60.0, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_failures < 1 or window_s <= 0:
            raise ValueError("max_failures must be >= 1 and window_s > 0")
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client_ip: str, now: float) -> deque[float] | None:
        """The client's failures still inside the window (older ones dropped); None when there are none."""
        times = self._failures.get(client_ip)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[client_ip]
            return None
        return times

    def allow(self, client_ip: str) -> bool:
        """False while the client has `max_failures` failures inside the window."""
        with self._lock:
            times = self._recent(client_ip, self._clock())
            return times is None or len(times) < self.max_failures

    def failed(self, client_ip: str) -> None:
        """Counts one failed authentication of the client."""
        with self._lock:
            now = self._clock()
            times = self._recent(client_ip, now)
            if times is None:
                times = self._failures[client_ip] = deque(maxlen=self.max_failures)
                while len(self._failures) > self.max_clients:
                    self._failures.popitem(last=False)
            times.append(now)
            self._failures.move_to_end(client_ip)

    def retry_after(self, client_ip: str) -> int:
        """Whole seconds until the client is allowed again (0 when it is allowed now): the Retry-After value."""
        with self._lock:
            now = self._clock()
            times = self._recent(client_ip, now)
            if times is None or len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[0] + self.window_s - now))
