"""What every exporter of a run shares: the run's context, and one resource's job in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from extractors.client import EndpointStats, T212Client
from extractors.resources import Resource
from flows.pipeline.progress import Progress
from warehouse import Warehouse


@dataclass(frozen=True)
class ReportOptions:
    """How reports are fetched: the first year (else the oldest activity known), patience;
    ``backfill``: only the years reaching back past the API's history."""

    start_year: int | None = None
    backfill: bool = False
    timeout: float = 3600.0
    download_transport: httpx.BaseTransport | None = None


@dataclass
class RunContext:
    """What every resource of one run shares."""

    run_id: str
    started_at: datetime
    full_refresh: bool = False
    reference_max_age: timedelta = timedelta(hours=12)
    overlap: timedelta = timedelta(days=2)
    reported_fields: set[str] = field(default_factory=set)
    progress: Progress | None = None
    chunk_pages: int = 250  # history pages normalised and staged at a time, at most
    reports: ReportOptions = field(default_factory=ReportOptions)


@dataclass(frozen=True)
class Job:
    """One resource of one account in a run, and what the warehouse held for it before
    (``state``) and the endpoint's counters before it (``before``), once read."""

    client: T212Client
    wh: Warehouse
    resource: Resource
    account_id: int
    ctx: RunContext
    state: dict | None = None
    before: EndpointStats | None = None


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")
