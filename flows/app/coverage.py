"""The `status` line that says when the API's history starts later than the account's."""

from __future__ import annotations

import duckdb

_FLAGGED = """
    SELECT "resource", "api_first_at", "evidence_at", "evidence_source" FROM "history_coverage"
    WHERE "account_id" = ? AND "needs_backfill" ORDER BY "resource"
"""


def coverage_line(con: duckdb.DuckDBPyConnection, account_id: int) -> str | None:
    """One WARNING line naming the resources whose API history starts after activity other
    sources show, and what to run; None when the history reaches back (or is unknown)."""
    try:
        rows = con.execute(_FLAGGED, [account_id]).fetchall()
    except duckdb.CatalogException:  # a database published before the view existed
        return None
    if not rows:
        return None
    names = ", ".join(r[0] for r in rows)
    starts = [r[1] for r in rows if r[1] is not None]
    api = f"starts {max(starts):%Y-%m-%d}" if starts else "shows none"
    earliest = min(rows, key=lambda r: r[2])
    return (
        f"WARNING: account {account_id}: the API's {names} history {api}, but "
        f"{earliest[3]} show activity from {earliest[2]:%Y-%m-%d}: run "
        "`t212-etl run --backfill-reports` to load the CSV reports of the years between"
    )
