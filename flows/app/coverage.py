"""What `status` says of each history's reach: a table, and one line when it falls short."""

from __future__ import annotations

import duckdb

from flows.app.output import format_table

_REACH = """
    SELECT "resource", "api_first_at", "api_last_at", "report_first_at", "report_last_at",
           "evidence_at", "evidence_source", "needs_backfill"
    FROM "history_coverage" WHERE "account_id" = ? ORDER BY "resource"
"""
_COLUMNS = ("history", "api_from", "api_to", "reports_from", "reports_to", "evidence_from", "by")


def _day(moment) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d}"


def coverage_lines(con: duckdb.DuckDBPyConnection, account_id: int) -> list[str]:
    """The reach of each history resource, and a WARNING naming the resources whose API
    history starts after activity other sources show, with what to run."""
    try:
        rows = con.execute(_REACH, [account_id]).fetchall()
    except duckdb.CatalogException:  # a database published before the view existed
        return []
    if not rows:
        return []
    table = [(r[0], *map(_day, r[1:6]), r[6] or "") for r in rows]
    lines = [format_table(_COLUMNS, table)]
    flagged = [r for r in rows if r[7]]
    if flagged:
        names = ", ".join(r[0] for r in flagged)
        starts = [r[1] for r in flagged if r[1] is not None]
        api = f"starts {max(starts):%Y-%m-%d}" if starts else "shows none"
        earliest = min(flagged, key=lambda r: r[5])
        lines.append(
            f"WARNING: account {account_id}: the API's {names} history {api}, but "
            f"{earliest[6]} show activity from {earliest[5]:%Y-%m-%d}: run "
            "`t212-etl run --backfill-reports` to load the CSV reports of the years between"
        )
    return lines
