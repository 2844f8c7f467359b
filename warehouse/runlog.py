"""Rows of the run log: one per run (``runs``) and one per resource of a run (``run_resources``).

Both are upserted on their key, so a run can be logged when it starts and
again when it ends. Each write marks the table for Parquet publishing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import duckdb

from warehouse.bookkeeping import RATE_LIMITS, RUN_RESOURCES, RUNS
from warehouse.merge import MergeCounts, q
from warehouse.parquet import add_pending


def _insert_or_replace(con: duckdb.DuckDBPyConnection, table_name: str, rows: list[dict]) -> None:
    """Insert or replace rows of the same columns in one statement (each costs milliseconds)."""
    if not rows:
        return
    cols = ", ".join(q(c) for c in rows[0])
    marks = ", ".join(["(" + ", ".join("?" for _ in rows[0]) + ")"] * len(rows))
    values = [value for row in rows for value in row.values()]
    con.execute(f"INSERT OR REPLACE INTO {q(table_name)} ({cols}) VALUES {marks}", values)


def _upsert(con: duckdb.DuckDBPyConnection, table_name: str, rows: list[dict]) -> None:
    """Insert or replace rows of a published log and mark it for Parquet publishing."""
    if rows:
        _insert_or_replace(con, table_name, rows)
        add_pending(con, {(table_name, "{}")})


@dataclass(frozen=True)
class Outcome:
    """How a run, or one resource of it, ended (``running`` until then): the columns the
    ``runs`` and ``run_resources`` rows share."""

    outcome: str
    finished_at: datetime | None = None
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    wait_seconds: float = 0.0
    duration_seconds: float | None = None
    error: str | None = None


def record_run_row(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    started_at: datetime,
    ended: Outcome,
    accounts: Iterable[int] = (),
) -> None:
    """Insert or replace the ``runs`` row of ``run_id``."""
    row = {
        "run_id": run_id,
        "started_at": started_at,
        "accounts": json.dumps(sorted(accounts)),
        **asdict(ended),
    }
    _upsert(con, RUNS.name, [row])


def _run_row(con: duckdb.DuckDBPyConnection, run_id: str, fields: dict[str, Any]) -> None:
    """The ``runs`` row from keyword fields: ``started_at``, ``accounts`` and :class:`Outcome`'s."""
    fields = dict(fields)
    started_at, accounts = fields.pop("started_at"), fields.pop("accounts", ())
    record_run_row(con, run_id, started_at, Outcome(**fields), accounts)


def _per_table(counts: Mapping[str, MergeCounts], field: str) -> str:
    return json.dumps({name: getattr(c, field) for name, c in sorted(counts.items())})


def record_resource_row(
    con: duckdb.DuckDBPyConnection, run_id: str, account_id: int, resource: str, **fields: Any
) -> None:
    """Insert or replace the ``run_resources`` row (``counts`` and :class:`Outcome`'s fields)."""
    _upsert(con, RUN_RESOURCES.name, [_resource_row(run_id, account_id, resource, fields)])


def record_resource_rows(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    rows: Iterable[tuple[int, str, Mapping[str, Any]]],
) -> None:
    """Insert or replace many ``run_resources`` rows at once: (account id, resource, fields).

    A key given twice keeps its last row, as one insert after another would.
    """
    built = {(a, r): _resource_row(run_id, a, r, fields) for a, r, fields in rows}
    _upsert(con, RUN_RESOURCES.name, list(built.values()))


def _resource_row(
    run_id: str, account_id: int, resource: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """The row of :func:`resource_row` from keyword fields: ``counts`` and :class:`Outcome`'s."""
    fields = dict(fields)
    counts = fields.pop("counts", None)
    return resource_row(run_id, account_id, resource, Outcome(**fields), counts)


def resource_row(
    run_id: str,
    account_id: int,
    resource: str,
    ended: Outcome,
    counts: Mapping[str, MergeCounts] | None = None,
) -> dict[str, Any]:
    """The ``run_resources`` row of one resource; per-table counts are stored as JSON objects."""
    counts = counts or {}
    return {
        "run_id": run_id,
        "account_id": account_id,
        "resource": resource,
        "rows_read": _per_table(counts, "read"),
        "rows_inserted": _per_table(counts, "inserted"),
        "rows_updated": _per_table(counts, "updated"),
        **asdict(ended),
    }


def record_rate_limit_rows(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    seen_at: datetime,
    rows: Iterable[tuple[int, str, tuple[int, float], tuple[int, float]]],
) -> None:
    """Insert or replace the ``rate_limits`` rows: (account id, endpoint, announced (requests,
    seconds), documented (requests, seconds)). Internal: not published as Parquet."""
    built = {
        (account_id, endpoint): {
            "account_id": account_id,
            "endpoint": endpoint,
            "requests": seen[0],
            "period_seconds": seen[1],
            "documented_requests": documented[0],
            "documented_period_seconds": documented[1],
            "seen_at": seen_at,
            "run_id": run_id,
        }
        for account_id, endpoint, seen, documented in rows
    }
    _insert_or_replace(con, RATE_LIMITS.name, list(built.values()))


class RunLog:
    """A warehouse's run log, written in the transactions of ``transaction`` (the
    warehouse's: ``transaction(work, cursor=...)`` runs ``work(con)`` and commits)."""

    def __init__(self, transaction: Callable[..., Any]) -> None:
        self._transaction = transaction

    def record_run(self, run_id: str, **fields: object) -> None:
        """Insert or replace the run log row of ``run_id`` (see ``runlog.record_run_row``).

        Written on a cursor of its own, so it may run beside the threads that use the
        warehouse's connection.
        """
        self._transaction(lambda con: _run_row(con, run_id, fields), cursor=True)

    def record_run_log(
        self,
        run_id: str,
        resources: Iterable[tuple[int, str, Mapping[str, object]]],
        rate_limits: Iterable[tuple[int, str, tuple[int, float], tuple[int, float]]] = (),
        **fields: object,
    ) -> None:
        """Insert or replace every resource's result row and the run's row in one transaction.

        ``resources`` holds (account id, resource, fields of ``runlog.record_resource_row``);
        ``rate_limits`` the rows of ``runlog.record_rate_limit_rows``; ``fields`` are those
        of ``runlog.record_run_row``.
        """

        def work(con: duckdb.DuckDBPyConnection) -> None:
            record_resource_rows(con, run_id, resources)
            seen_at = fields.get("finished_at") or fields["started_at"]
            record_rate_limit_rows(con, run_id, seen_at, rate_limits)
            _run_row(con, run_id, fields)

        self._transaction(work)

    def record_resource_result(
        self, run_id: str, account_id: int, resource: str, **fields: object
    ) -> None:
        """Insert or replace one resource's result row (see ``runlog.record_resource_row``)."""
        self._transaction(
            lambda con: record_resource_row(con, run_id, account_id, resource, **fields)
        )
