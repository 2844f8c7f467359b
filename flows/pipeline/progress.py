"""Progress of long work: pages, rows, rate-limit waits and an estimate of the time left."""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

log = logging.getLogger("t212_etl")


@dataclass
class _Line:
    pages: int = 0
    rows: int = 0
    waited: float = 0.0
    started: float = field(default_factory=time.monotonic)
    reached: datetime | None = None


def estimate_left(
    elapsed: float, newest: datetime | None, reached: datetime | None, stop: datetime | None
) -> float | None:
    """Seconds left, from how far back in time the walk got towards its stop point."""
    if newest is None or reached is None or stop is None or newest <= stop:
        return None
    done = (newest - reached) / (newest - stop)
    if done <= 0:
        return None
    return max(0.0, elapsed / min(done, 1.0) - elapsed)


class Progress:
    """Reports per account and resource: a live line on a terminal, log lines otherwise."""

    def __init__(
        self, stream: TextIO | None = None, *, live: bool | None = None, every: float = 5.0
    ):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.every = every
        self._lines: dict[str, _Line] = {}
        self._last_log = float("-inf")  # the first line always shows
        self._lock = threading.Lock()

    def page(
        self,
        label: str,
        rows: int,
        *,
        newest: datetime | None = None,
        reached: datetime | None = None,
        stop: datetime | None = None,
    ) -> None:
        """One more page of ``label`` (``account/resource``) with ``rows`` rows."""
        with self._lock:
            line = self._lines.setdefault(label, _Line())
            line.pages += 1
            line.rows += rows
            line.reached = reached or line.reached
            left = estimate_left(time.monotonic() - line.started, newest, line.reached, stop)
            self._show(label, line, left)

    def wait(self, label: str, seconds: float) -> None:
        """A wait for the rate limit of ``label``."""
        with self._lock:
            line = self._lines.setdefault(label, _Line())
            line.waited += seconds
            if seconds >= 1:
                self._emit(f"{label}: waiting {seconds:.0f}s for the rate limit", force=True)

    def _show(self, label: str, line: _Line, left: float | None) -> None:
        text = f"{label}: {line.pages} pages, {line.rows} rows, {line.waited:.0f}s waited"
        if line.reached is not None:
            text += f", back to {line.reached:%Y-%m-%d}"
        if left is not None:
            text += f", about {left:.0f}s left"
        self._emit(text)

    def _emit(self, text: str, force: bool = False) -> None:
        if self.live:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
            return
        now = time.monotonic()
        if force or now - self._last_log >= self.every:
            self._last_log = now
            log.info("%s", text)

    def done(self) -> None:
        """End the live line."""
        if self.live and self._lines:
            self.stream.write("\r\033[K")
            self.stream.flush()


_active: Progress | None = None


def activate(progress: Progress | None) -> None:
    """Make ``progress`` the reporter of runs in this process (the CLI sets it)."""
    global _active
    _active = progress


def active() -> Progress | None:
    """The reporter of runs in this process, if any."""
    return _active
