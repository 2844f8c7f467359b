"""What every exporter of a run shares: run context, results, landing, cursors, statistics."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from extractors.client import EndpointStats
from extractors.extraction import parse_time
from extractors.resources import Resource
from flows.pipeline.progress import Progress
from flows.pipeline.reports import ReportOptions
from transforms.frames import Normalised, to_arrow
from warehouse import GLOBAL_ACCOUNT, MergeCounts, Warehouse, raw

log = logging.getLogger("t212_etl")
# a resource's changes are published at most this long after the previous publish
PUBLISH_EVERY = 5.0

SHARED_RAW_ACCOUNT = "shared"


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


def advance_cursor(
    newest: datetime | None, state: dict | None, *, not_after: datetime | None = None
) -> dict | None:
    """The history cursor after items as new as ``newest``: it never moves back, and
    never past ``not_after`` (the run's start), whatever an earlier run stored."""
    old = parse_time(((state or {}).get("cursor") or {}).get("watermark"))
    newest = max([t for t in (newest, old) if t], default=None)
    if newest is not None and not_after is not None:
        newest = min(newest, not_after)
    return {"watermark": newest.isoformat()} if newest else None


def stored_watermark(state: dict | None, ctx: RunContext) -> datetime | None:
    """Where an incremental walk may stop: the stored watermark, never past this run's
    start (a watermark poisoned by an earlier version is capped); None to read it all."""
    if ctx.full_refresh or not state or not state.get("cursor"):
        return None
    watermark = parse_time(state["cursor"].get("watermark"))
    return min(watermark, ctx.started_at) if watermark else None


def merge_normalised(
    wh: Warehouse,
    resource: Resource,
    account_id: int,
    result: Normalised,
    *,
    run_id: str,
    loaded_at: datetime,
    cursor: dict | None,
) -> dict[str, MergeCounts]:
    """Merge one resource's frames and its cursor in one transaction, then publish Parquet."""
    tables = {name: to_arrow(frame, name) for name, frame in result.frames.items()}
    scope = account_id if resource.account_scoped else GLOBAL_ACCOUNT
    counts = wh.merge_resource(
        resource.name, scope, tables, run_id=run_id, loaded_at=loaded_at, cursor=cursor
    )
    publish_parquet_safely(wh)
    return counts


def publish_parquet_safely(wh: Warehouse) -> str | None:
    """Publish pending Parquet partitions; on a write error (a full disk) they stay pending.

    The merge is already committed, so the resource succeeded; the run publishes again
    at its end and reports a failure that persists. Returns the error, if any. Within
    ``PUBLISH_EVERY`` seconds of the last publish the partitions wait for the next one:
    many accounts at once would otherwise publish after every resource of every account,
    one after the other under the warehouse lock (and, with a lake, one commit each).
    """
    if time.monotonic() - wh.published_at < PUBLISH_EVERY:
        return None  # published moments ago: the next publish, at the latest the run's, takes it
    if wh.publisher.down is not None:
        return wh.publisher.down  # the store stopped answering: the run's end tries once more
    try:
        wh.publish_parquet()
    except OSError as exc:
        log.warning("Parquet not published yet (%s); it stays pending for the next attempt", exc)
        return str(exc)
    return None


def is_fresh(state: dict | None, ctx: RunContext) -> bool:
    """True when a reference list was loaded recently enough to skip it."""
    if ctx.full_refresh or not state or not state.get("last_success_at"):
        return False
    last = state["last_success_at"]
    last = last if isinstance(last, datetime) else parse_time(str(last))
    return last is not None and ctx.started_at - last < ctx.reference_max_age


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


def land_page(
    wh: Warehouse, raw_account: str, resource: Resource, ctx: RunContext, number: int, page
) -> None:
    """Write one page to the raw zone exactly as received, before anything reads it."""
    raw.write_page(
        wh.data_dir,
        account=raw_account,
        resource=resource.name,
        run_id=ctx.run_id,
        run_started_at=ctx.started_at,
        page=number,
        body=page.body,
        request_path=page.path,
        received_at=page.received_at,
    )


def land_complete(
    wh: Warehouse, raw_account: str, resource: Resource, ctx: RunContext, pages: int
) -> None:
    """Mark a run's pages complete in the raw zone; written before the merge commits, so a
    crash in between leaves landed pages that `rebuild` replays, never committed ones it skips."""
    raw.write_run_complete(
        wh.data_dir, account=raw_account, resource=resource.name, run_id=ctx.run_id, pages=pages
    )


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def stopped_earlier(exc: BaseException) -> bool:
    """Whether ``exc`` only says that an earlier fatal error stopped the database."""
    return isinstance(exc, duckdb.FatalException) and "previous fatal error" in str(exc)
