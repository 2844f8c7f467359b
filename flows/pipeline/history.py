"""History resources streamed in chunks: pages landed, normalised and staged a chunk at a time.

Memory stays bounded by one chunk whatever the history's length: pages arrive through a
``PageFeed``, each batch is read a column at a time with Arrow (record by record where it
must) and staged in the resource's open transaction, which merges every table once and
commits with the cursor, so a failure still leaves nothing. Replaying landed pages
(``rebuild``) takes the same path in batches of ``REBUILD_CHUNK_PAGES``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from extractors.client import ApiResponse, decode_json
from extractors.extraction import dig, fetch_pages, newest_time, parse_time
from extractors.resources import Resource
from flows.pipeline.context import Job
from flows.pipeline.cursors import advance_cursor, stored_watermark
from flows.pipeline.feed import PageFeed
from flows.pipeline.landing import Landing
from flows.pipeline.merging import publish_parquet_safely
from flows.pipeline.normalisers import columnar_reader, normalise_pages
from flows.pipeline.results import ResourceResult, copy_stats, stats_delta
from transforms.columnar import NotColumnar, column_at
from transforms.frames import Normalised, odd_currencies, to_arrow
from warehouse import Warehouse, raw
from warehouse.merge import Load

log = logging.getLogger("t212_etl")

# A fill's taxes come only from the kept occurrence of the fill, across chunks too.
OWNERS = {"fill_taxes": "fills"}
# 50,000 items: each merge scans the table, so few large merges; Arrow keeps them compact
REBUILD_CHUNK_PAGES = 1000
RECORD_CHUNK_PAGES = 200  # pages decoded into Python objects at a time


@dataclass
class Chunk:
    """A normalised chunk of history pages and the newest item time among them."""

    normalised: Normalised
    newest: datetime | None


def load_chunks(
    wh: Warehouse,
    load: Load,
    chunks: Iterable[Chunk],
    result: ResourceResult,
    state: dict | None,
) -> ResourceResult:
    """Merge normalised chunks in one transaction with the cursor, then publish Parquet.

    Fills ``result`` (counts, problems, unknown fields) and returns it. The stored cursor
    is the newest item time ever seen, as for a merge of all pages at once.
    """
    newest = None
    with wh.merge_batch(load, owners=OWNERS) as batch:
        for chunk in chunks:
            normalised = chunk.normalised
            result.problems += normalised.problems
            result.unknown_fields |= normalised.unknown_fields
            result.notices.update(normalised.notices, odd_currencies(normalised.frames))
            newest = max((t for t in (newest, chunk.newest) if t), default=None)
            tables = {name: to_arrow(frame, name) for name, frame in normalised.frames.items()}
            batch.add(tables)
            # hand the chunk's Arrow memory back now, not at the allocator's leisure
            pa.default_memory_pool().release_unused()
        result.counts = batch.commit(advance_cursor(newest, state, not_after=load.loaded_at))
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


def normalise_decoded(resource: Resource, datas: list[Any], account_id: int, at: datetime) -> Chunk:
    """Decoded pages normalised record by record, with their newest item time up to ``at``
    (the run's start: see ``newest_time``)."""
    times = [t for t in (newest_time(resource, d["items"], not_after=at) for d in datas) if t]
    return Chunk(normalise_pages(resource, datas, account_id, at), max(times, default=None))


def normalise_bodies(
    resource: Resource, bodies: list[bytes], account_id: int, at: datetime
) -> Chunk:
    """Landed page bodies: a column at a time when clean, else record by record.

    Both give the same rows; only the record path can say what is wrong with a record,
    so any chunk the columnar path refuses goes through it.
    """
    chunk = columnar_chunk(resource, bodies, account_id, at)
    if chunk is not None:
        return chunk
    return normalise_decoded(resource, [decode_json(b) for b in bodies], account_id, at)


def replay_chunks(
    resource: Resource, bodies: Iterable[bytes], account_id: int, at: datetime
) -> Iterator[Chunk]:
    """Landed bodies in large columnar chunks (see :func:`normalise_batches`)."""
    return normalise_batches(resource, _chunked(bodies, REBUILD_CHUNK_PAGES), account_id, at)


def normalise_batches(
    resource: Resource, batches: Iterable[list[bytes]], account_id: int, at: datetime
) -> Iterator[Chunk]:
    """Batches of page bodies normalised a column at a time; a batch the columnar path
    refuses is taken again in small ones, so only the pages around an odd record go
    record by record."""
    for batch in batches:
        whole = columnar_chunk(resource, batch, account_id, at)
        if whole is not None:
            yield whole
            continue
        for small in _chunked(batch, RECORD_CHUNK_PAGES):
            yield normalise_bodies(resource, small, account_id, at)


def columnar_chunk(
    resource: Resource, bodies: list[bytes], account_id: int, at: datetime
) -> Chunk | None:
    """Page bodies normalised a column at a time, with their newest item time up to ``at``,
    or None when they need the record path."""
    columnar = columnar_reader(resource)
    if columnar is None:
        return None
    try:
        normalised, items = columnar(bodies, account_id=account_id)
    except NotColumnar as exc:
        log.debug("%s: pages read record by record (%s)", resource.name, exc)
        return None
    return Chunk(normalised, _newest(resource, items, at))


def _newest(resource: Resource, items: pa.ChunkedArray, at: datetime) -> datetime | None:
    """The newest cursor time of the items up to ``at``, as ``newest_time`` finds it."""
    texts = column_at(items, resource.cursor or "").to_numpy(zero_copy_only=False)
    parsed = pd.to_datetime(texts, utc=True, format="ISO8601", errors="coerce")
    parsed = parsed.where(parsed <= pd.Timestamp(at))
    if parsed.notna().any():
        newest = parse_time(texts[parsed.argmax()])
        if newest is not None:
            return newest
    return max((t for t in map(parse_time, texts) if t and t <= at), default=None)


def export_history(job: Job) -> ResourceResult:
    """Extract a history resource newest first, land every page and merge it in chunks.

    Pages are fetched and landed on a thread of their own, so the network never waits for
    the merge; each batch of pages that arrived meanwhile is normalised and staged.
    """
    client, resource, account_id, ctx = job.client, job.resource, job.account_id, job.ctx
    started = time.monotonic()
    result = ResourceResult(resource.name, account_id)
    before = job.before or copy_stats(client.stats.get(resource.path))
    watermark = stored_watermark(job.state, ctx)
    pages = fetch_pages(client, resource, watermark=watermark, overlap=ctx.overlap)
    landed = _land(pages, job, result, watermark)
    with PageFeed(landed, ctx.chunk_pages) as feed:
        load_chunks(
            job.wh,
            Load(resource.name, account_id, ctx.run_id, ctx.started_at),
            normalise_batches(resource, feed.batches(), account_id, ctx.started_at),
            result,
            job.state,
        )
    result.stats = stats_delta(before, client.stats.get(resource.path))
    result.seconds = time.monotonic() - started
    return result


def _land(
    pages: Iterable[ApiResponse], job: Job, result: ResourceResult, watermark: datetime | None
) -> Iterator[Any]:
    """Land each page in the raw zone and yield its body as received."""
    resource, account_id, ctx = job.resource, job.account_id, job.ctx
    landing = Landing(job.wh.data_dir, str(account_id), resource.name, ctx.run_id, ctx.started_at)
    newest = None
    for number, page in enumerate(pages, start=1):
        landing.page(number, page)
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
        yield page.body
    # every page has landed: mark the run complete before the merge commits
    landing.complete(result.pages)


def replay_history(
    wh: Warehouse, resource: Resource, account_id: int, run: raw.RawRun
) -> ResourceResult:
    """Merge one landed run of a history resource in chunks, as its export merged it."""
    bodies = raw.iter_bodies(run)
    return load_chunks(
        wh,
        Load(resource.name, account_id, run.run_id, run.started_at),
        replay_chunks(resource, bodies, account_id, run.started_at),
        ResourceResult(resource.name, account_id),
        wh.get_state(account_id, resource.name),
    )
