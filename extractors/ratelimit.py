"""Per-endpoint rate limiter: documented limits as a start, response headers as the truth."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from extractors.resources import DOCUMENTED_LIMITS

DEFAULT_LIMIT = (1, 1.0)
# A header claiming more requests per window than this is not believed.
MAX_LIMIT = 10_000


@dataclass
class Window:
    """What is known of one endpoint's current window."""

    limit: int
    period: float
    remaining: int
    reset_at: float | None = None  # clock time when the window is full again
    bound: float = 0.0  # the longest wait: the period configured (documented) for it


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    """A header's finite number, or None for a missing, odd, infinite or NaN value."""
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date), or None.

    Values that are not finite, negative, or unreadable give None: the caller's own rule
    decides then.
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(0.0, seconds) if math.isfinite(seconds) else None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


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
                self._windows[endpoint] = Window(limit, period, limit, bound=period)
            return self._windows[endpoint]

    def bound(self, endpoint: str) -> float:
        """The longest the limiter waits for ``endpoint``, whatever the headers say."""
        return self.window(endpoint).bound

    def acquire(self, endpoint: str) -> float:
        """Take one request slot, sleeping until the reset if the window is spent.

        Returns the seconds slept, never more than the endpoint's bound.
        """
        w = self.window(endpoint)
        waited = 0.0
        now = self._clock()
        if w.reset_at is not None and now >= w.reset_at:
            w.remaining, w.reset_at = w.limit, None
        if w.remaining <= 0:
            reset_at = w.reset_at if w.reset_at is not None else now + w.period
            delay = min(max(0.0, reset_at - now), w.bound)
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
        """Correct the window from a response's ``x-ratelimit-*`` headers.

        Values that are not finite numbers in a believable range are ignored, and a reset
        is never further away than the endpoint's bound.
        """
        w = self.window(endpoint)
        limit = _header_float(headers, "x-ratelimit-limit")
        period = _header_float(headers, "x-ratelimit-period")
        remaining = _header_float(headers, "x-ratelimit-remaining")
        reset = _header_float(headers, "x-ratelimit-reset")
        if limit is not None and 1 <= limit <= MAX_LIMIT:
            w.limit = int(limit)
        if period is not None and period > 0:
            w.period = period
        if remaining is not None and remaining >= 0:
            w.remaining = min(int(remaining), w.limit)
        if reset is not None:
            w.reset_at = min(reset, self._clock() + w.bound)

    def spent(self, endpoint: str, retry_after: float | None = None) -> None:
        """Mark the window spent after a 429, until its reset or ``Retry-After`` (bounded)."""
        w = self.window(endpoint)
        w.remaining = 0
        now = self._clock()
        if retry_after is not None:
            w.reset_at = now + min(retry_after, w.bound)
        elif w.reset_at is None or w.reset_at <= now:
            w.reset_at = now + min(w.period, w.bound)
