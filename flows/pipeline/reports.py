"""CSV reports into ``activity``: which years to request, the per-year cursor, and imports."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from extractors.client import ApiResponse, decode_json
from extractors.reports import (
    Downloader,
    Patience,
    ReportFile,
    fetch_reports,
    periods,
    report_file,
)
from extractors.resources import RESOURCES, Kind, Resource
from flows.pipeline.context import Job
from transforms.reports import read_report
from transforms.values import snake_case
from warehouse import Warehouse

log = logging.getLogger("t212_etl")

# Where an account's activity is first seen, to know which years to request: each history
# resource's cursor column (its newest-first order), and the reports' own event times.
_EARLIEST = (
    *(
        (r.tables[0], snake_case(r.cursor.rsplit(".", 1)[-1]))
        for r in RESOURCES.values()
        if r.kind == Kind.HISTORY and r.cursor
    ),
    ("activity", "time"),
)


def earliest_activity(wh: Warehouse, account_id: int) -> datetime | None:
    """The oldest dividend, order, transaction or report row the warehouse holds."""
    parts = " UNION ALL ".join(
        f'SELECT min("{column}") AS t FROM "{table}" WHERE "account_id" = ?'
        for table, column in _EARLIEST
    )
    row = wh.fetch(f"SELECT min(t) FROM ({parts})", [account_id] * len(_EARLIEST))
    return row[0][0]


def done_years(state: dict | None) -> list[int]:
    """Years whose whole report is loaded, from a stored cursor."""
    return sorted(int(y) for y in ((state or {}).get("cursor") or {}).get("years", []))


def file_period(report: ReportFile) -> tuple[datetime, datetime] | None:
    """What a file covers: the period it was requested for, or (a file imported by hand)
    its first to last row; None for a file without rows."""
    if report.period is not None:
        return report.period.time_from, report.period.time_to
    times = read_report(report.body, account_id=0).frame["time"].dropna()
    if times.empty:
        return None
    return times.min().to_pydatetime(), times.max().to_pydatetime()


def _outermost(periods: set[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The periods not inside another (the current year requested again later adds none)."""
    return sorted(
        p for p in periods if not any(o != p and o[0] <= p[0] and p[1] <= o[1] for o in periods)
    )


def _parsed(entry: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(entry["from"]), datetime.fromisoformat(entry["to"])


def stored_periods(cursor: dict | None) -> list[tuple[datetime, datetime]]:
    """The periods a reports cursor records as covered, years loaded whole included."""
    cursor = cursor or {}
    found = {_parsed(p) for p in cursor.get("periods", [])}
    found |= {
        (datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC))
        for y in cursor.get("years", [])
    }
    return _outermost(found)


def report_cursor(files: list[ReportFile], state: dict | None) -> dict | None:
    """The stored cursor with what ``files`` add: the years covered whole, the periods
    covered, and the backfill requests they answer taken off; None when it is empty."""
    old = dict((state or {}).get("cursor") or {})
    years = set(done_years(state))
    years |= {f.period.year for f in files if f.period is not None and f.period.complete}
    periods = {_parsed(p) for p in old.get("periods", [])}
    periods |= {p for p in map(file_period, files) if p is not None}
    loaded = {(f.period.time_from, f.period.time_to) for f in files if f.period is not None}
    cursor = {
        **old,
        "years": sorted(years),
        "periods": [{"from": a.isoformat(), "to": b.isoformat()} for a, b in _outermost(periods)],
        "backfill": {
            year: entry
            for year, entry in (old.get("backfill") or {}).items()
            if _parsed(entry) not in loaded
        },
    }
    return {k: v for k, v in cursor.items() if v} or None


def report_pages(job: Job) -> Iterator[ApiResponse]:
    """The report files still missing for the job's account, as pages, oldest year first.

    Years already loaded whole are skipped (all of them again on a full refresh); the
    current year is always requested.
    """
    client, account_id, state, now = job.client, job.account_id, job.state, job.ctx.started_at
    options = job.ctx.reports
    first = options.start_year
    if first is None:
        oldest = earliest_activity(job.wh, account_id)
        first = oldest.year if oldest is not None else now.year
        if oldest is None:
            log.warning(
                "account %s, reports: no activity known yet, so only %d is requested; set "
                "[export] reports_start_year or load the JSON history first",
                account_id,
                now.year,
            )
    wanted = periods(first, now, [] if job.ctx.full_refresh else done_years(state))
    log.info(
        "account %s, reports: requesting %s", account_id, ", ".join(str(p.year) for p in wanted)
    )

    def pages() -> Iterator[ApiResponse]:
        with Downloader(options.download_transport) as downloader:
            yield from fetch_reports(client, wanted, downloader, patience=Patience(options.timeout))

    return pages()


def page_data(resource: Resource, request_path: str, body: bytes) -> Any:
    """A landed page decoded as its resource's normaliser expects it."""
    if resource.kind == Kind.REPORTS:
        return report_file(request_path, body)
    return decode_json(body)
