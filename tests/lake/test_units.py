"""The lake's pieces on their own: publish scopes, partitions, leases, names, store options."""

from __future__ import annotations

import json
import os
import socket
from datetime import date, timedelta

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.pipeline.storage import worker_name
from tests.flows.harness import settings_for
from warehouse.lake import lake_partitions
from warehouse.leases import TERM, is_free, process_identity
from warehouse.objectstore import delta_options
from warehouse.parquet import PUBLISHED
from warehouse.scopes import MAX_PARTITION_TERMS, duckdb_scope, scope_predicate
from warehouse.storeconfig import TIMEOUT_ENV, client_options, timeouts

POSITIONS, ORDERS = PUBLISHED["positions"], PUBLISHED["orders"]
ACCOUNTS = st.sampled_from([1, 7, 21200101, 2**53 + 1])
DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2020, 6, 30))
SNAPSHOTS = st.sets(st.tuples(ACCOUNTS, DAYS), min_size=1, max_size=90)


_CON = duckdb.connect()  # one per test process: a connection costs more than a query


def selected(candidates: set[tuple], predicate: str) -> set[tuple]:
    """The candidate partitions (account, day) the predicate selects, as DuckDB reads it."""
    rows = sorted(candidates)
    data = pa.table(
        [[a for a, _ in rows], [d for _, d in rows]],
        schema=pa.schema([("account_id", pa.int64()), ("snapshot_date", pa.date32())]),
    )
    cursor = _CON.cursor()
    try:
        cursor.register("c", data)
        where = duckdb_scope(predicate)
        query = f"SELECT account_id, snapshot_date FROM c WHERE {where}"
        return set(cursor.execute(query).fetchall())
    finally:
        cursor.close()


def pending(partitions: set[tuple]) -> list[str]:
    """Pending partitions as the pending table holds them: JSON of text values."""
    return [
        json.dumps({"account_id": str(a), "snapshot_date": d.isoformat()}) for a, d in partitions
    ]


@settings(max_examples=40, deadline=None)
@given(candidates=SNAPSHOTS, data=st.data())
def test_the_predicate_selects_exactly_the_pending_partitions(candidates, data):
    chosen = data.draw(st.sets(st.sampled_from(sorted(candidates)), min_size=1))
    predicate = scope_predicate(POSITIONS, pending(chosen), accounts=[99])
    if len(chosen) <= MAX_PARTITION_TERMS:
        assert selected(candidates, predicate) == chosen
    else:  # too many terms: the accounts of the pending partitions, whole
        accounts = {a for a, _ in chosen}
        assert selected(candidates, predicate) == {c for c in candidates if c[0] in accounts}


@settings(max_examples=30, deadline=None)
@given(candidates=SNAPSHOTS, owned=st.sets(ACCOUNTS))
def test_a_whole_table_is_scoped_to_the_accounts_this_worker_owns(candidates, owned):
    predicate = scope_predicate(POSITIONS, ["*"], owned)
    assert selected(candidates, predicate) == {c for c in candidates if c[0] in owned}
    # a table of accounts without partitions of its own: the same scope
    assert scope_predicate(PUBLISHED["disposals"], ["*"], owned) == predicate


def test_past_the_term_limit_the_pending_accounts_are_replaced_whole():
    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(MAX_PARTITION_TERMS + 1)]
    chosen = {(7, d) for d in days}
    candidates = chosen | {(7, date(2021, 1, 1)), (1, days[0])}
    predicate = scope_predicate(POSITIONS, pending(chosen), [1])
    assert selected(candidates, predicate) == chosen | {(7, date(2021, 1, 1))}


def test_history_partitions_select_their_accounts():
    predicate = scope_predicate(ORDERS, ['{"account_id": "7"}', '{"account_id": "21"}'], [1])
    candidates = {(a, date(2020, 1, 1)) for a in (1, 7, 21, 70)}
    assert {a for a, _ in selected(candidates, predicate)} == {7, 21}


@pytest.mark.parametrize(
    "partition",
    [
        '{"account_id": "1 OR TRUE", "snapshot_date": "2020-01-01"}',
        '{"account_id": "1", "snapshot_date": "2020-01-01\' OR \'1\'=\'1"}',
    ],
)
def test_a_partition_value_never_reaches_the_predicate_unparsed(partition):
    with pytest.raises(ValueError):
        scope_predicate(POSITIONS, [partition], [1])


def test_the_predicate_reads_the_same_in_delta(tmp_path):
    """Delta's own reading of the predicate (a replace through it) matches DuckDB's."""
    from deltalake import DeltaTable, write_deltalake

    days = [date(2020, 1, 1), date(2020, 1, 2)]
    candidates = {(a, d) for a in (1, 7) for d in days}
    rows = sorted(candidates)
    data = pa.table(
        {
            "account_id": pa.array([a for a, _ in rows], pa.int64()),
            "snapshot_date": pa.array([d for _, d in rows], pa.date32()),
            "ticker": pa.array(["X"] * len(rows)),
        }
    )
    uri = str(tmp_path / "positions")
    write_deltalake(uri, data, partition_by=["account_id", "snapshot_date"])
    chosen = {(1, days[1]), (7, days[0])}
    predicate = scope_predicate(POSITIONS, pending(chosen), [1, 7])
    write_deltalake(uri, data.slice(0, 0), mode="overwrite", predicate=predicate)
    left = DeltaTable(uri).to_pyarrow_table().to_pylist()
    assert {(r["account_id"], r["snapshot_date"]) for r in left} == candidates - chosen
    assert candidates - selected(candidates, predicate) == candidates - chosen


def test_no_accounts_scope_nothing():
    assert scope_predicate(POSITIONS, ["*"], []) == "FALSE"
    assert selected({(1, date(2020, 1, 1))}, "FALSE") == set()


def test_lake_partitions_put_the_account_first():
    assert lake_partitions(POSITIONS) == ("account_id", "snapshot_date")
    assert lake_partitions(ORDERS) == ("account_id",)
    assert lake_partitions(PUBLISHED["disposals"]) == ("account_id",)  # none of its own
    assert lake_partitions(PUBLISHED["instruments"]) == ()
    # the logs are merged on their key across workers, never partitioned by account
    assert lake_partitions(PUBLISHED["run_resources"]) == ()
    for table in PUBLISHED.values():
        partitions = lake_partitions(table)
        assert partitions[:1] in ((), ("account_id",))
        assert set(table.partition_by) <= set(partitions) or table.kind == "log"


HOST = socket.gethostname()
ME = process_identity()


def holder(pid: int, host: str = HOST, process: str = ME, **extra: object) -> dict:
    """A lease's body as a holder writes it."""
    return {"host": host, "pid": pid, "process": process, "term_seconds": 1800.0, **extra}


def test_a_lease_is_free_when_its_holder_is_gone_or_its_term_ran_out():
    gone, fresh = 2**22 + 12345, timedelta(0)  # a pid beyond the kernel's range
    assert not is_free(holder(os.getpid()), fresh, HOST, ME)
    assert is_free(holder(gone), fresh, HOST, ME)
    # on another host, or in another PID namespace, the pid tells nothing: only the term
    for other in (holder(gone, "elsewhere"), holder(gone, process="other-boot/1")):
        assert not is_free(other, TERM - timedelta(seconds=1), HOST, ME)
        assert is_free(other, TERM + timedelta(seconds=1), HOST, ME)
    assert not is_free(holder(gone), fresh, HOST, "")  # no namespace known: no shortcut
    assert is_free(holder(os.getpid(), term_seconds=60), timedelta(seconds=61), HOST, ME)
    assert is_free(holder(os.getpid(), released_at="2026-01-10T12:00:00+00:00"), fresh, HOST, ME)
    assert not is_free({"host": HOST}, fresh, HOST, ME)  # a body it cannot read: the term
    assert is_free({"host": HOST}, TERM * 2, HOST, ME)


class Remote:
    base_url = "http://127.0.0.1:9"


def test_worker_name_names_the_group_of_accounts(tmp_path):
    both = settings_for(Remote, tmp_path, names=("invest", "isa"))
    assert worker_name(both, None) == "warehouse"
    assert worker_name(both, ["isa", "invest"]) == "warehouse"
    assert worker_name(both, ["isa"]) == "isa"
    one = settings_for(Remote, tmp_path, names=("invest",))
    assert worker_name(one, ["invest"]) == "warehouse"
    assert worker_name(both, ["isa", "isa"]) == "isa"


def test_delta_options_make_s3_commits_conditional_and_every_wait_bounded():
    bounded = {
        "timeout": "30000ms",
        "connect_timeout": "5000ms",
        "max_retries": "3",
        "retry_timeout": "30000ms",
    }
    assert delta_options("s3://b/lake", {}) == {**bounded, "AWS_CONDITIONAL_PUT": "etag"}
    # a user's own locking, or own setting, is left to the client's environment
    assert delta_options("s3://b/lake", {"AWS_S3_LOCKING_PROVIDER": "dynamodb"}) == bounded
    assert delta_options("s3://b/lake", {"AWS_CONDITIONAL_PUT": "etag"}) == bounded
    for url in ("gs://b/lake", "az://c/lake"):
        assert delta_options(url, {}) == bounded
    assert delta_options("file:///tmp/lake", {}) == {}
    short = delta_options("gs://b/lake", {"T212_STORAGE_TIMEOUT": "1.5"})
    assert short["timeout"] == short["retry_timeout"] == "1500ms"
    assert short["connect_timeout"] == "1500ms"


def test_the_store_client_keeps_its_environment_settings_beside_the_timeouts():
    env = {"AWS_ALLOW_HTTP": "true", "AWS_PROXY_URL": "http://proxy:3128", TIMEOUT_ENV: "2"}
    options = client_options("s3://b/lake", env)
    assert options == {
        "allow_http": "true",
        "proxy_url": "http://proxy:3128",
        "timeout": timedelta(seconds=2),
        "connect_timeout": timedelta(seconds=2),
    }
    assert client_options("gs://b/lake", env)["timeout"] == timedelta(seconds=2)
    assert "allow_http" not in client_options("gs://b/lake", env)
    for wrong in ("", "soon", "-1", "0"):
        assert timeouts({TIMEOUT_ENV: wrong}) == (30.0, 5.0)
