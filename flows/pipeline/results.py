"""What a resource did in a run: its result, the requests it spent, and errors that repeat."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from extractors.client import EndpointStats
from warehouse import MergeCounts


@dataclass
class ResourceResult:
    """What one resource of one account did in a run."""

    resource: str
    account_id: int
    outcome: str = "success"
    counts: dict[str, MergeCounts] = field(default_factory=dict)
    pages: int = 0
    problems: list[str] = field(default_factory=list)
    unknown_fields: set[str] = field(default_factory=set)
    notices: set[str] = field(default_factory=set)  # loaded, but worth telling once
    stats: EndpointStats = field(default_factory=EndpointStats)
    seconds: float = 0.0
    error: str | None = None


def copy_stats(stats: EndpointStats | None) -> EndpointStats:
    """A frozen copy of an endpoint's counters."""
    return EndpointStats(**vars(stats)) if stats else EndpointStats()


def stats_delta(before: EndpointStats | None, after: EndpointStats | None) -> EndpointStats:
    """What an endpoint's counters grew by between two copies."""
    before, after = before or EndpointStats(), after or EndpointStats()
    return EndpointStats(
        requests=after.requests - before.requests,
        retries=after.retries - before.retries,
        rate_limited=after.rate_limited - before.rate_limited,
        wait_seconds=after.wait_seconds - before.wait_seconds,
        bytes=after.bytes - before.bytes,
    )


def stopped_earlier(exc: BaseException) -> bool:
    """Whether ``exc`` only says that an earlier fatal error stopped the database."""
    return isinstance(exc, duckdb.FatalException) and "previous fatal error" in str(exc)
