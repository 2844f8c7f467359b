"""`run --backfill-reports`: the yearly CSV reports that reach back past the API's history.

Where ``history_coverage`` shows activity older than the API's earliest item that no
report covers, the years from that activity to the API's earliest item are requested,
one report each, then the year before the earliest report as long as that report holds
any row. Each report id is stored as soon as it is known and each file is merged with
its period as it arrives, so a killed run resumes by polling the reports it asked for:
no period is requested twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from extractors.reports import Downloader, Patience, Period, Requested, fetch_reports
from flows.pipeline.context import Job
from flows.pipeline.landing import Landing
from flows.pipeline.merging import load_of, merge_normalised
from flows.pipeline.normalisers import normalise_pages
from flows.pipeline.reports import report_cursor, stored_periods
from flows.pipeline.results import ResourceResult, stats_delta
from transforms.frames import odd_currencies
from warehouse import MergeCounts, Warehouse
from warehouse.coverage_views import read_coverage
from warehouse.crashpoints import crash_if_asked

log = logging.getLogger("t212_etl")

FLOOR_YEAR = 2000  # no report is asked for before this year, whatever the data says
MAX_ROUNDS = 40  # planning rounds per run: each adds at least one year, or stops


def _jan1(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def covered(lo: datetime, hi: datetime, periods: list[tuple[datetime, datetime]]) -> bool:
    """Whether the periods together cover ``[lo, hi]``."""
    reach = lo
    for start, end in sorted(periods):
        if start <= reach:
            reach = max(reach, end)
    return reach >= hi


def gap_of(rows: list[dict], now: datetime) -> tuple[datetime, datetime] | None:
    """From the earliest evidence to the latest API start of the resources needing a
    backfill (now, for one the API shows nothing of); None when none needs one."""
    flagged = [r for r in rows if r["needs_backfill"]]
    if not flagged:
        return None
    start = min(r["evidence_at"] for r in flagged)
    return start, max(r["api_first_at"] or now for r in flagged)


def missing_years(
    gap: tuple[datetime, datetime] | None, periods: list[tuple[datetime, datetime]]
) -> list[int]:
    """The years of ``gap`` whose part of it the report periods do not cover."""
    if gap is None:
        return []
    start, end = gap
    return [
        year
        for year in range(max(start.year, FLOOR_YEAR), end.year + 1)
        if not covered(max(start, _jan1(year)), min(end, _jan1(year + 1)), periods)
    ]


def _has_rows(wh: Warehouse, account_id: int, period: tuple[datetime, datetime]) -> bool:
    row = wh.fetch(
        'SELECT count(*) FROM "activity" WHERE "account_id" = ? AND "time" BETWEEN ? AND ?',
        [account_id, *period],
    )
    return row[0][0] > 0


def plan(wh: Warehouse, account_id: int, now: datetime) -> tuple[list[Period], dict]:
    """The periods still to load, and the report ids already asked for some of them."""
    state = wh.get_state(account_id, "reports")
    cursor = (state or {}).get("cursor") or {}
    periods = stored_periods(cursor)
    coverage = wh.transaction(lambda con: read_coverage(con, account_id))
    years = missing_years(gap_of(coverage, now), periods)
    if not years and periods and _has_rows(wh, account_id, periods[0]):
        before = periods[0][0].year - (periods[0][0] == _jan1(periods[0][0].year))
        years = [before] if before >= FLOOR_YEAR else []
    asked = cursor.get("backfill") or {}
    wanted, ids = [], {}
    for year in years:
        entry = asked.get(str(year))
        if entry:
            period = Period(year, datetime.fromisoformat(entry["from"]),
                            datetime.fromisoformat(entry["to"]))  # fmt: skip
            ids[period] = entry["report_id"]
        else:
            period = Period(year, _jan1(year), min(_jan1(year + 1), now))
        wanted.append(period)
    return wanted, ids


def _remember(job: Job, period: Period, report_id: int) -> None:
    """Store a report id as soon as it is known, before anything of it is loaded."""
    wh, ctx = job.wh, job.ctx
    # only this account's backfill writes its reports cursor: read, then merge, is safe
    state = wh.get_state(job.account_id, job.resource.name)
    cursor = dict((state or {}).get("cursor") or {})
    asked = dict(cursor.get("backfill") or {})
    asked[str(period.year)] = {"report_id": report_id, "from": period.time_from.isoformat(),
                               "to": period.time_to.isoformat()}  # fmt: skip
    load = load_of(job.resource, job.account_id, ctx.run_id, ctx.started_at)
    wh.merge_resource(load, {}, {**cursor, "backfill": asked})
    crash_if_asked("backfill.requested")


def _add(counts: dict[str, MergeCounts], more: dict[str, MergeCounts]) -> None:
    for table, c in more.items():
        old = counts.get(table, MergeCounts(0, 0, 0))
        counts[table] = MergeCounts(*(a + b for a, b in zip(old, c, strict=True)))


def export_backfill(job: Job) -> ResourceResult:
    """Request, poll, download and merge the reports that close the account's gap."""
    resource, account_id, ctx, wh = job.resource, job.account_id, job.ctx, job.wh
    result = ResourceResult(resource.name, account_id)
    landing = Landing(wh.data_dir, str(account_id), resource.name, ctx.run_id, ctx.started_at)
    for _ in range(MAX_ROUNDS):
        wanted, ids = plan(wh, account_id, ctx.started_at)
        if not wanted:
            break
        log.info(
            "account %s, backfill: requesting %s%s", account_id,
            ", ".join(str(p.year) for p in wanted),
            f" ({len(ids)} asked for before)" if ids else "",
        )  # fmt: skip
        requested = Requested(ids, lambda period, report_id: _remember(job, period, report_id))
        with Downloader(ctx.reports.download_transport) as downloader:
            patience = Patience(ctx.reports.timeout)
            pages = fetch_reports(
                job.client, wanted, downloader, patience=patience, requested=requested
            )
            for page in pages:
                result.pages += 1
                landing.page(result.pages, page)
                landing.complete(result.pages)
                normalised = normalise_pages(resource, [page.data], account_id, ctx.started_at)
                result.problems += normalised.problems
                result.unknown_fields |= normalised.unknown_fields
                result.notices.update(normalised.notices, odd_currencies(normalised.frames))
                state = wh.get_state(account_id, resource.name)
                counts = merge_normalised(
                    wh, load_of(resource, account_id, ctx.run_id, ctx.started_at), normalised,
                    report_cursor([page.data], state),
                )  # fmt: skip
                _add(result.counts, counts)
    else:
        log.warning("account %s, backfill: stopped after %d rounds", account_id, MAX_ROUNDS)
    if result.pages == 0:
        log.info("account %s, backfill: the reports already cover the API's gap", account_id)
    result.stats = stats_delta(job.before, job.client.stats.get(resource.path))
    return result
