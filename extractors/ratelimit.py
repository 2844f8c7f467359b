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
    """What is known of one endpoint's budget: its limit and when the next request may go."""

    limit: int
    period: float
    bound: float = 0.0  # the longest wait: the period configured (documented) for it
    last_at: float | None = None  # clock time of the latest request slot given out
    hold_until: float | None = None  # no request before this (headers, a 429)
    reset_at: float | None = None  # the latest reset the headers announced
    announced: bool = False  # limit and period came from the headers
    documented: tuple[int, float] = DEFAULT_LIMIT  # the first guess, before any header

    @property
    def interval(self) -> float:
        """The even spacing of requests: the period over the limit."""
        return self.period / self.limit


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
    """Spaces each endpoint's requests evenly, ``period / limit`` apart, from the first one.

    A token bucket of one token refilled at ``limit / period``: no window's requests go in a
    burst, and no ``period`` ever holds more than ``limit`` of them. The documented limits
    are the first guess; the ``x-ratelimit-*`` headers correct the limit and period, and a
    lower ``remaining`` than the pace assumes spreads what is left evenly until the reset.
    ``clock`` returns Unix time in seconds (the unit of ``x-ratelimit-reset``); ``sleep``
    waits; both are injectable so tests run in milliseconds.
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
            return self._window(endpoint)

    def _window(self, endpoint: str) -> Window:
        if endpoint not in self._windows:
            path = endpoint.split(" ")[-1]
            # a GET is keyed by its bare path; limits may name it "GET <path>"
            limit, period = (
                self._limits.get(endpoint)
                or self._limits.get(f"GET {endpoint}")
                or self._limits.get(path)
                or DEFAULT_LIMIT
            )
            self._windows[endpoint] = Window(
                limit, period, bound=period, documented=(limit, period)
            )
        return self._windows[endpoint]

    def bound(self, endpoint: str) -> float:
        """The longest the limiter waits for ``endpoint``, whatever the headers say."""
        return self.window(endpoint).bound

    def announced(self) -> dict[str, tuple[tuple[int, float], tuple[int, float]]]:
        """Per endpoint whose headers announced a limit ("METHOD path"): the (limit, period)
        announced last and the documented one."""
        with self._lock:
            return {
                e if " " in e else f"GET {e}": ((w.limit, w.period), w.documented)
                for e, w in self._windows.items()
                if w.announced
            }

    def acquire(self, endpoint: str) -> float:
        """Take the endpoint's next request slot, sleeping until it comes.

        Returns the seconds slept, never more than the endpoint's bound.
        """
        with self._lock:
            w = self._window(endpoint)
            now = self._clock()
            due = now
            if w.last_at is not None:
                due = max(due, w.last_at + w.interval)
            if w.hold_until is not None:
                due = max(due, w.hold_until)
            delay = min(due - now, w.bound)
            # the slot is taken before sleeping, so threads sharing the limiter queue up
            w.last_at = now + delay
        if delay > 0:
            self._sleep(delay)
        return delay

    def observe(
        self, endpoint: str, headers: Mapping[str, str], sent_at: float | None = None
    ) -> None:
        """Correct the window from the ``x-ratelimit-*`` headers of a request sent at ``sent_at``.

        Values that are not finite numbers in a believable range are ignored, and a reset
        is never further away than the endpoint's bound.
        """
        limit = _header_float(headers, "x-ratelimit-limit")
        period = _header_float(headers, "x-ratelimit-period")
        remaining = _header_float(headers, "x-ratelimit-remaining")
        reset = _header_float(headers, "x-ratelimit-reset")
        with self._lock:
            w = self._window(endpoint)
            if limit is not None and 1 <= limit <= MAX_LIMIT:
                w.limit, w.announced = int(limit), True
            if period is not None and period > 0:
                w.period, w.announced = period, True
            if reset is None:
                return
            now = self._clock()
            w.reset_at = min(reset, now + w.bound)
            if remaining is None or remaining < 0 or w.reset_at <= now:
                return
            # ``remaining`` more requests fit before the reset: spread them evenly from the
            # request these headers answer, the next one no sooner than its share
            start = min(now, sent_at if sent_at is not None else w.last_at or now)
            share = (w.reset_at - start) / (min(remaining, w.limit) + 1)
            w.hold_until = max(w.hold_until or start, start + share)

    def spent(self, endpoint: str, retry_after: float | None = None) -> None:
        """After a 429: no request until ``Retry-After``, or else the reset (bounded)."""
        with self._lock:
            w = self._window(endpoint)
            now = self._clock()
            if retry_after is not None:
                w.hold_until = now + min(retry_after, w.bound)
            elif w.reset_at is not None and w.reset_at > now:
                w.hold_until = max(w.hold_until or now, w.reset_at)
            else:
                w.hold_until = now + min(w.period, w.bound)
