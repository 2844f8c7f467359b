"""One resource end to end, by the exporter of its kind: extract, land, normalise, merge.

History streams in chunks (``flows.pipeline.history``); snapshots, reference lists and
reports are read whole here, each kind with its own pages and its own cursor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from extractors.client import ApiResponse, EndpointStats
from extractors.extraction import fetch_pages, newest_time
from extractors.resources import Kind, Resource
from flows.pipeline.backfill import export_backfill
from flows.pipeline.context import Job
from flows.pipeline.cursors import advance_cursor, is_fresh
from flows.pipeline.history import export_history
from flows.pipeline.landing import SHARED_RAW_ACCOUNT, Landing
from flows.pipeline.merging import load_of, merge_normalised
from flows.pipeline.normalisers import normalise_pages
from flows.pipeline.reports import report_cursor, report_pages
from flows.pipeline.results import ResourceResult, copy_stats, stats_delta
from transforms.frames import odd_currencies
from warehouse import GLOBAL_ACCOUNT

log = logging.getLogger("t212_etl")


def history_cursor(
    resource: Resource, datas: list[Any], state: dict | None, at: datetime
) -> dict | None:
    """The newest item time ever seen, never after ``at``: the cursor a history merge stores."""
    times = [t for t in (newest_time(resource, d["items"], not_after=at) for d in datas) if t]
    return advance_cursor(max(times, default=None), state, not_after=at)


def _no_cursor(resource: Resource, datas: list[Any], state: dict | None, at: datetime) -> None:
    return None


# what each kind stores with its merge: the newest item time, the years loaded whole, nothing
CURSORS: dict[Kind, Callable[[Resource, list[Any], dict | None, datetime], dict | None]] = {
    Kind.HISTORY: history_cursor,
    Kind.REPORTS: lambda resource, datas, state, at: report_cursor(datas, state),
    Kind.SNAPSHOT: _no_cursor,
    Kind.REFERENCE: _no_cursor,
}


def new_cursor(
    resource: Resource, datas: list[Any], state: dict | None, at: datetime
) -> dict | None:
    """The cursor to store with the merge of ``datas``, as the resource's kind keeps it."""
    return CURSORS[resource.kind](resource, datas, state, at)


def export_snapshot(job: Job, first_page: ApiResponse | None = None) -> ResourceResult:
    """One answer per run and account (or the answer already fetched), kept as a snapshot."""
    pages = [first_page] if first_page else fetch_pages(job.client, job.resource)
    return load_whole(job, pages)


def export_reference(job: Job, first_page: ApiResponse | None = None) -> ResourceResult:
    """A list shared by the accounts: skipped while fresh, else read whole and replaced."""
    if is_fresh(job.state, job.ctx):
        result = ResourceResult(job.resource.name, GLOBAL_ACCOUNT)
        result.outcome = "skipped"
        return result
    return export_snapshot(job, first_page)


def export_reports(job: Job, first_page: ApiResponse | None = None) -> ResourceResult:
    """The CSV reports of the years still missing, merged by event with the years done
    (with ``--backfill-reports``: those reaching back past the API's history)."""
    if job.ctx.reports.backfill:
        return export_backfill(job)
    return load_whole(job, report_pages(job))


def export_history_job(job: Job, first_page: ApiResponse | None = None) -> ResourceResult:
    """Paginated history, newest first down to its cursor, streamed in chunks."""
    return export_history(job)


EXPORTERS: dict[Kind, Callable[[Job, ApiResponse | None], ResourceResult]] = {
    Kind.SNAPSHOT: export_snapshot,
    Kind.REFERENCE: export_reference,
    Kind.HISTORY: export_history_job,
    Kind.REPORTS: export_reports,
}


def export_resource(
    job: Job,
    *,
    first_page: ApiResponse | None = None,
    stats_before: EndpointStats | None = None,
) -> ResourceResult:
    """Extract, land, normalise and merge the job's resource with the exporter of its kind.

    Errors propagate to the caller. ``first_page`` is an answer already fetched (the
    summary that named the account), ``stats_before`` the endpoint's counters from before.
    """
    resource = job.resource
    scope = job.account_id if resource.account_scoped else GLOBAL_ACCOUNT
    state = job.wh.get_state(scope, resource.name)
    before = stats_before or copy_stats(job.client.stats.get(resource.path))
    return EXPORTERS[resource.kind](replace(job, state=state, before=before), first_page)


def load_whole(job: Job, pages: Iterable[ApiResponse]) -> ResourceResult:
    """Land every page, normalise them together and merge them with the kind's cursor."""
    started = time.monotonic()
    resource, account_id, ctx, wh = job.resource, job.account_id, job.ctx, job.wh
    result = ResourceResult(
        resource.name, account_id if resource.account_scoped else GLOBAL_ACCOUNT
    )
    raw_account = str(account_id) if resource.account_scoped else SHARED_RAW_ACCOUNT
    landing = Landing(wh.data_dir, raw_account, resource.name, ctx.run_id, ctx.started_at)
    datas = []
    for number, page in enumerate(pages, start=1):
        landing.page(number, page)
        datas.append(page.data)
        result.pages = number
        if ctx.progress:
            ctx.progress.page(f"{account_id}/{resource.name}", 1)
    landing.complete(result.pages)
    normalised = normalise_pages(resource, datas, account_id, ctx.started_at)
    result.problems, result.unknown_fields = normalised.problems, normalised.unknown_fields
    result.notices.update(normalised.notices, odd_currencies(normalised.frames))
    result.counts = merge_normalised(
        wh,
        load_of(resource, account_id, ctx.run_id, ctx.started_at),
        normalised,
        new_cursor(resource, datas, job.state, ctx.started_at),
    )
    result.stats = stats_delta(job.before, job.client.stats.get(resource.path))
    result.seconds = time.monotonic() - started
    return result
