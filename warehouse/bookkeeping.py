"""The pipeline's own tables: run log, per-resource results, load state, rate limits seen and
pending Parquet work.

Global resources (instruments, exchanges and their schedules) are not tied to an
account; their ``load_state`` and ``run_resources`` rows use ``account_id`` 0
(:data:`GLOBAL_ACCOUNT`), which Trading 212 never assigns to an account.
"""

from __future__ import annotations

from transforms.catalogue import Table, TableKind, columns

GLOBAL_ACCOUNT = 0

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
)

# Choices the views read, written by each run from the configuration (``base_currency``).
SETTINGS = Table(
    "settings",
    columns("name:text value:text"),
    key=("name",),
    kind=TableKind.LOG,
)

BOOKKEEPING: dict[str, Table] = {
    t.name: t for t in (RUNS, RUN_RESOURCES, LOAD_STATE, RATE_LIMITS, PENDING_PUBLISH, SETTINGS)
}

# The run log is also published as Parquet; state and pending work are internal.
PUBLISHED_LOGS = (RUNS, RUN_RESOURCES)
