"""Faults on demand: scheduled (the next N matching requests) or random at a seeded rate."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

FAULTS = frozenset(
    {
        "500",
        "502",
        "503",
        "429",
        "slow",
        "drip",
        "reset",
        "truncated",
        "malformed",
        "html200",
        "html502",
        "echo_headers",
        "stuck_cursor",
        "foreign_cursor",
        "future_time",
        "stale_time",
    }
)
# Faults that only make sense on a paginated answer: a misdirected cursor, or the first
# item's time rewritten (a clock that lies: 2099, or an order created in 2001).
PAGE_FAULTS = frozenset({"stuck_cursor", "foreign_cursor", "future_time", "stale_time"})
# Keyword-friendly spellings for set_fault_rates(e500=0.1, ...).
ALIASES = {"e500": "500", "e502": "502", "e503": "503", "e429": "429"}


def canonical(name: str) -> str:
    """The canonical fault name; ValueError for an unknown one."""
    name = ALIASES.get(name, name)
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {sorted(FAULTS)}")
    return name


@dataclass(frozen=True)
class Fault:
    """A fault for the next ``times`` matching requests, after skipping ``after`` of them;
    ``path``, ``account_id`` and ``method`` narrow the match when given."""

    name: str
    path: str | None = None
    times: int = 1
    after: int = 0
    account_id: int | None = None
    method: str | None = None

    def __post_init__(self) -> None:
        # counts may come as text from the control endpoint's JSON
        object.__setattr__(self, "times", int(self.times))
        object.__setattr__(self, "after", int(self.after))
        if self.times < 1 or self.after < 0:
            raise ValueError("times must be >= 1 and after >= 0")
        object.__setattr__(self, "name", canonical(self.name))
        object.__setattr__(self, "method", self.method.upper() if self.method else None)

    def matches(self, path: str, account_id: int | None, paginated: bool, method: str) -> bool:
        """Whether this fault applies to a request."""
        if self.path is not None and path != self.path:
            return False
        if self.method is not None and method != self.method:
            return False
        if self.account_id is not None and account_id != self.account_id:
            return False
        return paginated or self.name not in PAGE_FAULTS


@dataclass
class _Scheduled:
    """A fault and how many matching requests it still skips and strikes."""

    fault: Fault
    after: int
    times: int


class FaultPlan:
    """Decides, request by request, which fault (if any) to apply."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._scheduled: list[_Scheduled] = []
        self._rates: dict[str, float] = {}
        self._random = random.Random(seed)

    def schedule(self, fault: Fault) -> None:
        """Apply ``fault`` to the next requests it matches."""
        with self._lock:
            self._scheduled.append(_Scheduled(fault, fault.after, fault.times))

    def set_rates(self, rates: dict[str, float]) -> None:
        """Random faults: each request draws each fault with its probability (seeded)."""
        checked = {canonical(k): float(v) for k, v in rates.items()}
        if any(not 0 <= v <= 1 for v in checked.values()):
            raise ValueError("rates must be between 0 and 1")
        with self._lock:
            self._rates = {k: v for k, v in sorted(checked.items()) if v > 0}
            self._random = random.Random(self._seed)

    def clear(self) -> None:
        """Remove every scheduled fault and every rate."""
        with self._lock:
            self._scheduled.clear()
            self._rates = {}

    def draw(
        self, path: str, account_id: int | None, paginated: bool, method: str = "GET"
    ) -> str | None:
        """The fault for this request, or None; consumes schedules and random draws."""
        with self._lock:
            for rule in self._scheduled:
                if not rule.fault.matches(path, account_id, paginated, method):
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                rule.times -= 1
                if rule.times == 0:
                    self._scheduled.remove(rule)
                return rule.fault.name
            for fault, rate in self._rates.items():
                if (paginated or fault not in PAGE_FAULTS) and self._random.random() < rate:
                    return fault
            return None
