"""The pipeline's own tables: run log, per-resource results, load state and pending Parquet work.

Global resources (instruments, exchanges and their schedules) are not tied to an
account; their ``load_state`` and ``run_resources`` rows use ``account_id`` 0
(:data:`GLOBAL_ACCOUNT`), which Trading 212 never assigns to an account.
"""

from __future__ import annotations

from transforms.catalogue import Column, Table

GLOBAL_ACCOUNT = 0

_COUNTERS = (
    Column("requests", "bigint"),
    Column("retries", "bigint"),
    Column("rate_limited", "bigint"),
    Column("wait_seconds", "double"),
    Column("duration_seconds", "double"),
    Column("error", "text"),
)

RUNS = Table(
    "runs",
    (
        Column("run_id", "text"),
        Column("started_at", "timestamp"),
        Column("finished_at", "timestamp"),
        Column("outcome", "text"),
        # JSON list of the account ids the run covered
        Column("accounts", "text"),
        *_COUNTERS,
    ),
    key=("run_id",),
    kind="log",
)

RUN_RESOURCES = Table(
    "run_resources",
    (
        Column("run_id", "text"),
        Column("account_id", "bigint"),
        Column("resource", "text"),
        Column("finished_at", "timestamp"),
        Column("outcome", "text"),
        # JSON objects {table: count}
        Column("rows_read", "text"),
        Column("rows_inserted", "text"),
        Column("rows_updated", "text"),
        *_COUNTERS,
    ),
    key=("run_id", "account_id", "resource"),
    kind="log",
)

LOAD_STATE = Table(
    "load_state",
    (
        Column("account_id", "bigint"),
        Column("resource", "text"),
        # JSON object, or NULL for resources without a cursor
        Column("cursor", "text"),
        Column("last_success_at", "timestamp"),
        Column("last_run_id", "text"),
    ),
    key=("account_id", "resource"),
    kind="log",
)

PENDING_PUBLISH = Table(
    "pending_publish",
    (
        Column("table_name", "text"),
        # JSON object {partition column: value as text} in partition order; {} when unpartitioned
        Column("partition_values", "text"),
    ),
    key=("table_name", "partition_values"),
    kind="log",
)

BOOKKEEPING: dict[str, Table] = {
    t.name: t for t in (RUNS, RUN_RESOURCES, LOAD_STATE, PENDING_PUBLISH)
}

# The run log is also published as Parquet; state and pending work are internal.
PUBLISHED_LOGS = (RUNS, RUN_RESOURCES)
