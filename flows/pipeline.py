"""One resource end to end: extract, land raw pages, normalise, merge with its cursor, publish.

History resources stream in chunks (``flows.chunks``); the others are read whole here.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from extractors.client import ApiResponse, EndpointStats, T212Client
from extractors.extraction import dig, fetch_pages, newest_time, parse_time
from extractors.resources import Kind, Resource
from flows.activity import report_cursor, report_pages
from flows.chunks import export_history
from flows.context import (
    SHARED_RAW_ACCOUNT,
    ResourceResult,
    RunContext,
    advance_cursor,
    copy_stats,
    is_fresh,
    land_complete,
    land_page,
    merge_normalised,
    stats_delta,
    stored_watermark,
)
from flows.normalisers import normalise_pages
from flows.progress import Progress
from warehouse import GLOBAL_ACCOUNT, Warehouse

log = logging.getLogger("t212_etl")


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
