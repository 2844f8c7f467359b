"""The `status` command's report: last runs, rows, cursors, rate limits seen, freshness and
Parquet health."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from flows.app.coverage import coverage_lines
from flows.app.output import format_table
from transforms.catalogue import TABLES
from warehouse import GLOBAL_ACCOUNT, connect_readonly
from warehouse.publisher import LocalParquet
from warehouse.reader import DATABASE_FILE

if TYPE_CHECKING:
    from warehouse.publisher import Publisher

STALE_AFTER = timedelta(days=1)


def _account_ids(con) -> list[int]:
    rows = con.execute(
        "SELECT DISTINCT account_id FROM run_resources UNION SELECT DISTINCT account_id "
        "FROM load_state ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def _rows_per_table(con, account_id: int) -> list[tuple[str, int]]:
    counts = []
    for table in TABLES.values():
        if "account_id" in table.column_names:
            if account_id == GLOBAL_ACCOUNT:
                continue
            sql = f'SELECT count(*) FROM "{table.name}" WHERE account_id = ?'
            n = con.execute(sql, [account_id]).fetchall()[0][0]
        elif account_id == GLOBAL_ACCOUNT:
            n = con.execute(f'SELECT count(*) FROM "{table.name}"').fetchall()[0][0]
        else:
            continue
        counts.append((table.name, n))
    return counts


def _per(requests: int | None, seconds: float | None) -> str:
    return "" if requests is None else f"{requests} per {seconds:g} s"


def _rate_limits(con, account_id: int) -> list[str]:
    """The limits the API announced per endpoint, beside the documented ones, if any."""
    try:
        rows = con.execute(
            "SELECT endpoint, requests, period_seconds, documented_requests, "
            "documented_period_seconds, seen_at FROM rate_limits WHERE account_id = ? "
            "ORDER BY endpoint",
            [account_id],
        ).fetchall()
    except duckdb.CatalogException:  # a database published before the table existed
        return []
    if not rows:
        return []
    table = [
        (endpoint, _per(n, s), _per(dn, ds), "" if (n, s) == (dn, ds) else "differs", seen)
        for endpoint, n, s, dn, ds, seen in rows
    ]
    return [
        "rate limits the API announced (the documented ones are the first guess):",
        format_table(("endpoint", "announced", "documented", "", "seen_at"), table),
    ]


def _account_section(con, account_id: int, now: datetime) -> list[str]:
    label = "shared reference lists" if account_id == GLOBAL_ACCOUNT else f"account {account_id}"
    lines = [f"== {label}"]
    runs = con.execute(
        "SELECT r.run_id, max(r.finished_at), "
        "CASE WHEN bool_or(r.outcome = 'failed') THEN 'failed' ELSE 'success' END "
        "FROM run_resources r WHERE r.account_id = ? GROUP BY r.run_id ORDER BY 1 DESC LIMIT 5",
        [account_id],
    ).fetchall()
    lines.append(format_table(("run", "finished_at", "outcome"), runs))
    states = con.execute(
        "SELECT resource, last_success_at, cursor FROM load_state WHERE account_id = ? "
        "ORDER BY resource",
        [account_id],
    ).fetchall()
    rows = [
        (res, last, (json.loads(cur) or {}).get("watermark") if cur else None)
        for res, last, cur in states
    ]
    lines.append(format_table(("resource", "last_success_at", "cursor"), rows))
    lines.append(format_table(("table", "rows"), _rows_per_table(con, account_id)))
    lines += _rate_limits(con, account_id)
    lines += coverage_lines(con, account_id)
    last_ok = max((r[1] for r in states if r[1] is not None), default=None)
    if last_ok is None:
        lines.append("WARNING: no successful load yet")
    elif account_id != GLOBAL_ACCOUNT and now - last_ok > STALE_AFTER:
        age = (now - last_ok).total_seconds() / 3600
        lines.append(f"WARNING: last successful load {age:.0f} hours ago (more than a day)")
    else:
        lines.append(f"fresh: last successful load at {last_ok.isoformat()}")
    return lines


def _open_published(data_dir: Path) -> tuple[duckdb.DuckDBPyConnection, float]:
    """The published database, read-only, and the time that copy was published."""
    path = Path(data_dir) / DATABASE_FILE
    while True:
        before = path.stat() if path.exists() else None
        con = connect_readonly(data_dir)
        after = path.stat()
        if before is not None and before.st_ino == after.st_ino:
            return con, after.st_mtime
        con.close()  # replaced by a run while opening: open the new copy


def status_report(
    data_dir: Path, now: datetime | None = None, publisher: Publisher | None = None
) -> tuple[str, bool]:
    """The status text, and whether anything needs attention (stale data, broken Parquet).

    The ``publisher``'s copy is checked: the local Parquet files unless given (a lake's
    tables with a storage URL).
    """
    publisher = publisher or LocalParquet(data_dir)
    now = now or datetime.now(UTC)
    con, published_at = _open_published(data_dir)
    try:
        lines = [f"warehouse: {Path(data_dir).resolve()}"]
        for account_id in _account_ids(con):
            lines += ["", *_account_section(con, account_id, now)]
        lines += publisher.status_lines()
        found = publisher.problems(con, newer_than=published_at)
    finally:
        con.close()
    problems = [p for p in found if p.alarm]
    lines.append("")
    if problems:
        lines.append(
            f"{publisher.label.upper()}: {len(problems)} problem(s); the next run or "
            "`t212-etl rebuild` repairs them"
        )
        lines += [f"  {p.table} {p.partition}: {p.message}" for p in problems[:20]]
    else:
        lines.append(f"{publisher.label}: every partition matches DuckDB")
    if len(found) > len(problems):
        lines.append(
            f"parquet: {len(found) - len(problems)} partition(s) newer than the database copy "
            "(a run is publishing, or stopped before publishing the database; the next run "
            "publishes it)"
        )
    attention = bool(problems) or any(line.startswith("WARNING") for line in lines)
    return "\n".join(lines), attention
