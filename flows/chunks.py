"""History resources streamed in chunks: pages landed, normalised and merged a chunk at a time.

Memory stays bounded by one chunk whatever the history's length, and while a backfill
waits for the rate limit the pages already fetched are merged. Every chunk goes into one
open transaction that commits with the cursor, so a failure still leaves nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from extractors.client import ApiResponse, EndpointStats, T212Client, decode_json
from extractors.resources import Resource, dig, fetch_pages, newest_time, parse_time
from flows.pipeline import (
    ResourceResult,
    RunContext,
    copy_stats,
    land_complete,
    land_page,
    new_cursor,
    normalise_pages,
    publish_parquet_safely,
    stats_delta,
)
from transforms.frames import to_arrow
from warehouse import Warehouse, raw

# A fill's taxes come only from the kept occurrence of the fill, across chunks too.
OWNERS = {"fill_taxes": "fills"}
REBUILD_CHUNK_PAGES = 200  # 10,000 items: large enough to amortise each merge


def load_chunks(
    wh: Warehouse,
    resource: Resource,
    account_id: int,
    datas: Iterable[Any],
    result: ResourceResult,
    *,
    state: dict | None,
    run_id: str,
    loaded_at: datetime,
    lock: threading.Lock,
    chunk_pages: int,
) -> ResourceResult:
    """Merge decoded history pages chunk by chunk in one transaction, then publish Parquet.

    Fills ``result`` (counts, problems, unknown fields) and returns it. The stored cursor
    is the newest item time ever seen, as for a merge of all pages at once.
    """
    running = state
    with wh.merge_batch(
        resource.name, account_id, run_id=run_id, loaded_at=loaded_at, owners=OWNERS
    ) as batch:
        for chunk in _chunked(datas, chunk_pages):
            normalised = normalise_pages(resource, chunk, account_id, loaded_at)
            result.problems += normalised.problems
            result.unknown_fields |= normalised.unknown_fields
            running = {"cursor": new_cursor(resource, chunk, running)}
            tables = {name: to_arrow(frame, name) for name, frame in normalised.frames.items()}
            with lock:
                batch.add(tables)
        cursor = new_cursor(resource, [], running)
        with lock:
            result.counts = batch.commit(cursor)
            publish_parquet_safely(wh)
    return result


def _chunked(datas: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for data in datas:
        chunk.append(data)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def export_history(
    client: T212Client,
    wh: Warehouse,
    resource: Resource,
    account_id: int,
    ctx: RunContext,
    *,
    state: dict | None,
    before: EndpointStats | None = None,
) -> ResourceResult:
    """Extract a history resource newest first, land every page and merge it in chunks."""
    started = time.monotonic()
    result = ResourceResult(resource.name, account_id)
    before = before or copy_stats(client.stats.get(resource.path))
    watermark = None
    if not ctx.full_refresh and state and state.get("cursor"):
        watermark = parse_time(state["cursor"].get("watermark"))
    pages = fetch_pages(client, resource, watermark=watermark, overlap=ctx.overlap)
    landed = _land(pages, wh, resource, account_id, ctx, result, watermark)
    load_chunks(
        wh,
        resource,
        account_id,
        landed,
        result,
        state=state,
        run_id=ctx.run_id,
        loaded_at=ctx.started_at,
        lock=ctx.warehouse_lock,
        chunk_pages=ctx.chunk_pages,
    )
    result.stats = stats_delta(before, client.stats.get(resource.path))
    result.seconds = time.monotonic() - started
    return result


def _land(
    pages: Iterable[ApiResponse],
    wh: Warehouse,
    resource: Resource,
    account_id: int,
    ctx: RunContext,
    result: ResourceResult,
    watermark: datetime | None,
) -> Iterator[Any]:
    """Land each page in the raw zone and yield its decoded data."""
    newest = None
    for number, page in enumerate(pages, start=1):
        land_page(wh, str(account_id), resource, ctx, number, page)
        result.pages = number
        if number == 1:
            newest = newest_time(resource, page.data["items"])
        if ctx.progress:
            items = page.data["items"]
            times = [t for t in (parse_time(dig(i, resource.cursor or "")) for i in items) if t]
            ctx.progress.page(
                f"{account_id}/{resource.name}",
                len(items),
                newest=newest,
                reached=min(times, default=None),
                stop=watermark - ctx.overlap if watermark else None,
            )
        yield page.data
    # every page has landed: mark the run complete before the merge commits
    land_complete(wh, str(account_id), resource, ctx, result.pages)


def replay_history(
    wh: Warehouse, resource: Resource, account_id: int, run: raw.RawRun
) -> ResourceResult:
    """Merge one landed run of a history resource in chunks, as its export merged it."""
    datas = (decode_json(page.body) for page in raw.iter_pages(run))
    return load_chunks(
        wh,
        resource,
        account_id,
        datas,
        ResourceResult(resource.name, account_id),
        state=wh.get_state(account_id, resource.name),
        run_id=run.run_id,
        loaded_at=run.started_at,
        lock=threading.Lock(),
        chunk_pages=REBUILD_CHUNK_PAGES,
    )
