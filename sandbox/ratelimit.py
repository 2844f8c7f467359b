"""Per-account, per-endpoint rate limits: a fixed window opened by its first request."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

FALLBACK = (50, 60.0)  # for paths the documentation gives no number for


@dataclass
class _Window:
    start: float
    used: int


@dataclass(frozen=True)
class Verdict:
    """Whether a request may be served, and the five ``x-ratelimit-*`` headers to send."""

    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    """Bursts of ``limit`` requests are allowed; then 429 until the window's end.

    With ``burst`` set, more than ``burst`` requests to one endpoint of an account within
    one second are refused as well, however much of the window is left: the server that
    asks clients to space their requests evenly. Windows, that second and every header are
    scaled by ``time_scale``.
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]],
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        burst: int | None = None,
    ) -> None:
        self.limits = dict(limits)
        self.time_scale = time_scale
        self.clock = clock
        self.burst = burst
        self._windows: dict[tuple[int, str], _Window] = {}
        self._recent: dict[tuple[int, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _limit(self, endpoint: str) -> tuple[int, float]:
        limit, seconds = self.limits.get(endpoint, FALLBACK)
        return limit, seconds * self.time_scale

    def _current(self, account_id: int, endpoint: str, now: float) -> _Window | None:
        window = self._windows.get((account_id, endpoint))
        if window is None or now >= window.start + self._limit(endpoint)[1]:
            return None
        return window

    def hit(self, account_id: int, endpoint: str) -> Verdict:
        """Consume one request of the account's window for ``endpoint`` if any is left."""
        with self._lock:
            now = self.clock()
            window = self._current(account_id, endpoint, now)
            if window is None:
                window = self._windows[(account_id, endpoint)] = _Window(now, 0)
            limit = self._limit(endpoint)[0]
            allowed = window.used < limit and not self._bursting(account_id, endpoint, now)
            if allowed:
                window.used += 1
            return Verdict(allowed, self._headers(endpoint, window, now))

    def _bursting(self, account_id: int, endpoint: str, now: float) -> bool:
        """Whether ``burst`` requests already went to the endpoint within the last second;
        if not, this one is recorded."""
        if self.burst is None:
            return False
        recent = self._recent.setdefault((account_id, endpoint), deque())
        while recent and recent[0] <= now - self.time_scale:
            recent.popleft()
        if len(recent) >= self.burst:
            return True
        recent.append(now)
        return False

    def peek(self, account_id: int, endpoint: str) -> dict[str, str]:
        """The headers as they stand, without consuming a request."""
        with self._lock:
            now = self.clock()
            window = self._current(account_id, endpoint, now) or _Window(now, 0)
            return self._headers(endpoint, window, now)

    def reset(self) -> None:
        """Forget every window."""
        with self._lock:
            self._windows.clear()
            self._recent.clear()

    def _headers(self, endpoint: str, window: _Window, now: float) -> dict[str, str]:
        limit, period = self._limit(endpoint)
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-period": self._seconds(period),
            "x-ratelimit-remaining": str(max(0, limit - window.used)),
            "x-ratelimit-reset": self._instant(window.start + period),
            "x-ratelimit-used": str(window.used),
        }

    def _seconds(self, value: float) -> str:
        if self.time_scale == 1.0 and value == int(value):
            return str(int(value))
        # under a millisecond, three decimals would announce a period of 0
        return f"{value:.3f}" if value >= 0.001 else f"{value:.3g}"

    def _instant(self, value: float) -> str:
        if self.time_scale == 1.0:
            # rounded up, so waiting until the header's second is always enough
            return str(math.ceil(value))
        return f"{math.ceil(value * 1000) / 1000:.3f}"
