"""How often and how long the client retries a transient failure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retries of transient failures, and the backoff when no reset is known.

    ``jitter`` is the share of a backoff that a random draw may take off, so that clients
    that failed together do not come back together.
    """

    max_attempts: int = 6
    max_total_wait: float = 600.0
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    jitter: float = 0.5

    def backoff(self, attempt: int, draw: float = 0.0) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based) of a 5xx or transport error.

        ``draw`` is a uniform random number in [0, 1).
        """
        full = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return full * (1 - self.jitter * min(max(draw, 0.0), 1.0))
