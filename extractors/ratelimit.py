"""Per-endpoint rate limiter: documented limits as a start, response headers as the truth."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# (requests, period in seconds), from the published limits; the headers correct them.
DOCUMENTED_LIMITS: dict[str, tuple[int, float]] = {
    "/api/v0/equity/account/summary": (1, 5.0),
    "/api/v0/equity/account/info": (1, 1.0),
    "/api/v0/equity/positions": (1, 1.0),
    "/api/v0/equity/metadata/instruments": (1, 50.0),
    "/api/v0/equity/metadata/exchanges": (1, 30.0),
    "/api/v0/equity/history/dividends": (6, 60.0),
    "/api/v0/equity/history/orders": (6, 60.0),
    "/api/v0/equity/history/transactions": (6, 60.0),
    "GET /api/v0/equity/history/exports": (1, 60.0),
    "POST /api/v0/equity/history/exports": (1, 30.0),
}
DEFAULT_LIMIT = (1, 1.0)


@dataclass
class Window:
    """What is known of one endpoint's current window."""

    limit: int
    period: float
    remaining: int
    reset_at: float | None = None  # clock time when the window is full again


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class RateLimiter:
    """Waits before a request only when the endpoint's window is known to be spent.

    ``clock`` returns Unix time in seconds (the unit of ``x-ratelimit-reset``);
    ``sleep`` waits; both are injectable so tests run in milliseconds.
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]] | None = None,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ):
        self._limits = dict(DOCUMENTED_LIMITS if limits is None else limits)
        self._clock = clock
        self._sleep = sleep
        self._windows: dict[str, Window] = {}
        self._lock = threading.Lock()

    def window(self, endpoint: str) -> Window:
        """The window of ``endpoint`` (created from the documented limits)."""
        with self._lock:
            if endpoint not in self._windows:
                path = endpoint.split(" ")[-1]
                # a GET is keyed by its bare path; limits may name it "GET <path>"
                limit, period = (
                    self._limits.get(endpoint)
                    or self._limits.get(f"GET {endpoint}")
                    or self._limits.get(path)
                    or DEFAULT_LIMIT
                )
                self._windows[endpoint] = Window(limit, period, limit)
            return self._windows[endpoint]

    def acquire(self, endpoint: str) -> float:
        """Take one request slot, sleeping until the reset if the window is spent.

        Returns the seconds slept.
        """
        w = self.window(endpoint)
        waited = 0.0
        now = self._clock()
        if w.reset_at is not None and now >= w.reset_at:
            w.remaining, w.reset_at = w.limit, None
        if w.remaining <= 0:
            reset_at = w.reset_at if w.reset_at is not None else now + w.period
            delay = max(0.0, reset_at - now)
            if delay > 0:
                self._sleep(delay)
                waited = delay
            now = self._clock()
            w.remaining, w.reset_at = w.limit, None
        if w.reset_at is None:
            # Our own model of a fixed window that starts at its first request.
            w.reset_at = now + w.period
        w.remaining -= 1
        return waited

    def observe(self, endpoint: str, headers: Mapping[str, str]) -> None:
        """Correct the window from a response's ``x-ratelimit-*`` headers."""
        w = self.window(endpoint)
        limit = _header_float(headers, "x-ratelimit-limit")
        period = _header_float(headers, "x-ratelimit-period")
        remaining = _header_float(headers, "x-ratelimit-remaining")
        reset = _header_float(headers, "x-ratelimit-reset")
        if limit is not None and limit >= 1:
            w.limit = int(limit)
        if period is not None and period > 0:
            w.period = period
        if remaining is not None:
            w.remaining = max(0, int(remaining))
        if reset is not None:
            w.reset_at = reset

    def spent(self, endpoint: str, retry_after: float | None = None) -> None:
        """Mark the window spent after a 429, until its reset or ``Retry-After``."""
        w = self.window(endpoint)
        w.remaining = 0
        now = self._clock()
        if retry_after is not None:
            w.reset_at = now + retry_after
        elif w.reset_at is None or w.reset_at <= now:
            w.reset_at = now + w.period
