"""One resource end to end: extract, land raw pages, normalise, merge with its cursor, publish."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from extractors.client import ApiResponse, EndpointStats, T212Client
from extractors.extraction import dig, fetch_pages, newest_time, parse_time
from extractors.resources import Kind, Resource
from flows.activity import ReportOptions, report_cursor, report_pages
from flows.progress import Progress
from transforms.account import normalise_account_summary
from transforms.activity import normalise_reports
from transforms.dividends import normalise_dividends
from transforms.exchanges import normalise_exchanges
from transforms.frames import Normalised, to_arrow
from transforms.instruments import normalise_instruments
from transforms.orders import normalise_orders
from transforms.pending_orders import normalise_pending_orders
from transforms.positions import normalise_positions
from transforms.transactions import normalise_transactions
from warehouse import GLOBAL_ACCOUNT, MergeCounts, Warehouse, raw

log = logging.getLogger("t212_etl")

SHARED_RAW_ACCOUNT = "shared"

_NORMALISERS: dict[str, Callable[[Any, int, datetime], Normalised]] = {
    "account_summary": lambda data, acc, at: normalise_account_summary(data, snapshot_at=at),
    "positions": lambda data, acc, at: normalise_positions(data, account_id=acc, snapshot_at=at),
    "pending_orders": lambda data, acc, at: normalise_pending_orders(
        data, account_id=acc, snapshot_at=at
    ),
    "instruments": lambda data, acc, at: normalise_instruments(data, seen_at=at),
    "exchanges": lambda data, acc, at: normalise_exchanges(data),
    "dividends": lambda items, acc, at: normalise_dividends(items, account_id=acc),
    "orders": lambda items, acc, at: normalise_orders(items, account_id=acc),
    "transactions": lambda items, acc, at: normalise_transactions(items, account_id=acc),
    "reports": lambda files, acc, at: normalise_reports(
        [(f.source, f.body) for f in files], account_id=acc
    ),
}


@dataclass
class RunContext:
    """What every resource of one run shares."""

    run_id: str
    started_at: datetime
    full_refresh: bool = False
    reference_max_age: timedelta = timedelta(hours=12)
    overlap: timedelta = timedelta(days=2)
    warehouse_lock: threading.Lock = field(default_factory=threading.Lock)
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
    stats: EndpointStats = field(default_factory=EndpointStats)
    seconds: float = 0.0
    error: str | None = None


def page_records(resource: Resource, datas: list[Any]) -> Any:
    """The records of a resource's decoded pages: items of every page, or the single answer."""
    if resource.kind == Kind.HISTORY:
        return [item for data in datas for item in data["items"]]
    if resource.kind == Kind.REPORTS:
        return datas
    return datas[0]


def normalise_pages(
    resource: Resource, datas: list[Any], account_id: int, at: datetime
) -> Normalised:
    """Normalise the decoded pages of ``resource`` for ``account_id`` as seen at ``at``."""
    return _NORMALISERS[resource.name](page_records(resource, datas), account_id, at)


def new_cursor(
    resource: Resource, datas: list[Any], state: dict | None, at: datetime
) -> dict | None:
    """The cursor to store with the merge: the newest item time ever seen, for history.

    Reports store the years loaded whole instead.
    """
    if resource.kind == Kind.REPORTS:
        return report_cursor(datas, state)
    if resource.kind != Kind.HISTORY:
        return None
    times = [t for t in (newest_time(resource, d["items"], not_after=at) for d in datas) if t]
    return advance_cursor(max(times, default=None), state, not_after=at)


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
    at its end and reports a failure that persists. Returns the error, if any.
    """
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


def export_resource(
    client: T212Client,
    wh: Warehouse,
    resource: Resource,
    account_id: int,
    ctx: RunContext,
    *,
    first_page: ApiResponse | None = None,
    stats_before: EndpointStats | None = None,
) -> ResourceResult:
    """Extract, land, normalise and merge one resource; errors propagate to the caller.

    ``first_page`` is an answer already fetched (the summary that named the account),
    and ``stats_before`` the endpoint's counters from before it was fetched.
    """
    started = time.monotonic()
    scope = account_id if resource.account_scoped else GLOBAL_ACCOUNT
    result = ResourceResult(resource.name, scope)
    with ctx.warehouse_lock:
        state = wh.get_state(scope, resource.name)
    if resource.kind == Kind.REFERENCE and is_fresh(state, ctx):
        result.outcome = "skipped"
        return result
    before = stats_before or copy_stats(client.stats.get(resource.path))
    if resource.kind == Kind.HISTORY and not first_page:
        from flows.chunks import export_history  # flows.chunks builds on this module

        return export_history(client, wh, resource, account_id, ctx, state=state, before=before)
    watermark = stored_watermark(state, ctx)
    raw_account = str(account_id) if resource.account_scoped else SHARED_RAW_ACCOUNT
    if first_page:
        pages = [first_page]
    elif resource.kind == Kind.REPORTS:
        pages = report_pages(
            client, wh, account_id, state, now=ctx.started_at, full_refresh=ctx.full_refresh,
            options=ctx.reports, lock=ctx.warehouse_lock,
        )  # fmt: skip
    else:
        pages = fetch_pages(client, resource, watermark=watermark, overlap=ctx.overlap)
    datas = []
    for number, page in enumerate(pages, start=1):
        land_page(wh, raw_account, resource, ctx, number, page)
        datas.append(page.data)
        result.pages = number
        if ctx.progress:
            _report_page(ctx.progress, resource, account_id, datas, watermark, ctx.overlap)
    land_complete(wh, raw_account, resource, ctx, result.pages)
    normalised = normalise_pages(resource, datas, account_id, ctx.started_at)
    result.problems, result.unknown_fields = normalised.problems, normalised.unknown_fields
    for notice in normalised.notices:
        log.warning("account %s, %s: %s", account_id, resource.name, notice)
    with ctx.warehouse_lock:
        result.counts = merge_normalised(
            wh,
            resource,
            account_id,
            normalised,
            run_id=ctx.run_id,
            loaded_at=ctx.started_at,
            cursor=new_cursor(resource, datas, state, ctx.started_at),
        )
    result.stats = stats_delta(before, client.stats.get(resource.path))
    result.seconds = time.monotonic() - started
    return result


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


def _report_page(
    progress: Progress,
    resource: Resource,
    account_id: int,
    datas: list[Any],
    watermark: datetime | None,
    overlap: timedelta,
) -> None:
    label = f"{account_id}/{resource.name}"
    if resource.kind != Kind.HISTORY:
        progress.page(label, 1)
        return
    items = datas[-1]["items"]
    times = [t for t in (parse_time(dig(i, resource.cursor or "")) for i in items) if t]
    progress.page(
        label,
        len(items),
        newest=newest_time(resource, datas[0]["items"]),
        reached=min(times, default=None),
        stop=watermark - overlap if watermark else None,
    )


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")
