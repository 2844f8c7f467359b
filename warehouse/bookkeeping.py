"""The pipeline's own tables: run log, per-resource results, load state, rate limits seen and
pending Parquet work.

Global resources (instruments, exchanges and their schedules) are not tied to an
account; their ``load_state`` and ``run_resources`` rows use ``account_id`` 0
(:data:`GLOBAL_ACCOUNT`), which Trading 212 never assigns to an account.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from transforms.catalogue import Table, TableKind, columns
from warehouse.merge import q

if TYPE_CHECKING:
    import duckdb

GLOBAL_ACCOUNT = 0
# settings named <this><table>:<account>: the lake version a worker's database holds in full
LAKE_SYNCED = "lake_synced:"
# kinds merged into the lake on their key: rows are added or made newer, never removed
MERGED_KINDS = (TableKind.SNAPSHOT, TableKind.HISTORY)

_COUNTERS = (
    "requests:bigint retries:bigint rate_limited:bigint wait_seconds:double "
    "duration_seconds:double error:text"
)

RUNS = Table(
    "runs",
    columns(
        "run_id:text started_at:timestamp finished_at:timestamp outcome:text "
        # JSON list of the account ids the run covered
        f"accounts:text {_COUNTERS}"
    ),
    key=("run_id",),
    kind=TableKind.LOG,
    description="the run log: one row per run",
)

RUN_RESOURCES = Table(
    "run_resources",
    columns(
        "run_id:text account_id:bigint resource:text finished_at:timestamp outcome:text "
        # JSON objects {table: count}
        f"rows_read:text rows_inserted:text rows_updated:text {_COUNTERS}"
    ),
    key=("run_id", "account_id", "resource"),
    kind=TableKind.LOG,
    description="the run log: rows read, inserted, updated, requests, retries, 429s, waits",
)

LOAD_STATE = Table(
    "load_state",
    columns(
        "account_id:bigint resource:text "
        # JSON object, or NULL for resources without a cursor
        "cursor:text last_success_at:timestamp last_run_id:text"
    ),
    key=("account_id", "resource"),
    kind=TableKind.LOG,
    description="each resource's cursor and last success (internal)",
)

# The limits the API's headers announced per account and endpoint ("METHOD path"), as the
# latest run that saw them, beside the documented ones the client starts from.
RATE_LIMITS = Table(
    "rate_limits",
    columns(
        "account_id:bigint endpoint:text requests:bigint period_seconds:double "
        "documented_requests:bigint documented_period_seconds:double seen_at:timestamp "
        "run_id:text"
    ),
    key=("account_id", "endpoint"),
    kind=TableKind.LOG,
    description="the rate limits the API announced per account and endpoint, latest run",
)

PENDING_PUBLISH = Table(
    "pending_publish",
    columns(
        "table_name:text "
        # JSON object {partition column: value as text} in partition order; {} when unpartitioned
        "partition_values:text"
    ),
    key=("table_name", "partition_values"),
    kind=TableKind.LOG,
    description="Parquet partitions still to publish (internal)",
)

# Choices the views read, written by each run from the configuration (``base_currency``).
SETTINGS = Table(
    "settings",
    columns("name:text value:text"),
    key=("name",),
    kind=TableKind.LOG,
    description="choices the views read (`base_currency`, `wrapper:<account id>`), "
    "written by each run",
)

BOOKKEEPING: dict[str, Table] = {
    t.name: t for t in (RUNS, RUN_RESOURCES, LOAD_STATE, RATE_LIMITS, PENDING_PUBLISH, SETTINGS)
}

# The run log is also published as Parquet; state and pending work are internal.
PUBLISHED_LOGS = (RUNS, RUN_RESOURCES)


def synced_versions(con: duckdb.DuckDBPyConnection, name: str) -> dict[int, int]:
    """Per account, the version of the lake's table ``name`` this database holds all of."""
    rows = con.execute(
        f"SELECT name, value FROM {q(SETTINGS.name)} WHERE starts_with(name, ?)",
        [f"{LAKE_SYNCED}{name}:"],
    ).fetchall()
    return {int(n.rsplit(":", 1)[1]): int(v) for n, v in rows}


def record_synced(
    con: duckdb.DuckDBPyConnection, name: str, accounts: Iterable[int], version: int
) -> None:
    """Note that this database holds every row of ``accounts`` in version ``version``."""
    for account in accounts:
        con.execute(
            f"INSERT OR REPLACE INTO {q(SETTINGS.name)} VALUES (?, ?)",
            [f"{LAKE_SYNCED}{name}:{int(account)}", str(version)],
        )
