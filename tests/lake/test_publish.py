"""Two sandbox accounts exported to a lake on S3: the lake equals DuckDB, run after run."""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

import warehouse.lake
import warehouse.parquet
from sandbox import DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID, Sandbox
from tests.flows.harness import export, run_cli, sandbox_config, settings_for
from tests.lake.checks import (
    Reader,
    assert_lake_equals_local,
    delta_table,
    held_leases,
    local_tables,
    per_account,
    read_bytes,
    versions,
)
from tests.lake.conftest import point_at
from tests.lake.s3 import SECRET_KEY, aws_env, new_bucket
from transforms.catalogue import TableKind
from warehouse import connect_readonly
from warehouse.bookkeeping import MERGED_KINDS
from warehouse.lake import Lake, lake_partitions
from warehouse.lakepublisher import LakePublisher
from warehouse.parquet import PUBLISHED
from warehouse.raw import RAW_DIR

# one process runs the module: its runs are shared by every test
pytestmark = pytest.mark.xdist_group("lake-publish")

ACCOUNTS = {DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID}


@dataclass
class Published:
    """Two runs of both accounts into one lake, and what was seen while they ran."""

    sandbox: Sandbox
    data_dir: Path
    url: str
    lake: Lake
    endpoint: str
    after_first: dict[str, list[tuple]] = field(default_factory=dict)
    first_reads: list = field(default_factory=list)
    second_reads: list = field(default_factory=list)
    positions_before_second: dict[int, int] = field(default_factory=dict)
    versions: list[dict[str, int]] = field(default_factory=list)
    second_publishes: collections.Counter = field(default_factory=collections.Counter)
    second_rounds: list[list[str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def published(s3_endpoint, tmp_path_factory):
    """Run 1 with a reader of orders beside it, run 2 with a reader of positions."""
    with pytest.MonkeyPatch.context() as mp, Sandbox(sandbox_config(two_accounts=True)) as sb:
        point_at(mp, s3_endpoint)
        url = f"s3://{new_bucket(s3_endpoint)}/lake"
        data_dir = tmp_path_factory.mktemp("lake") / "data"
        settings = settings_for(sb, data_dir, names=("invest", "isa"), storage_url=url)
        state = Published(sb, data_dir, url, Lake(url), s3_endpoint)

        with Reader(state.lake, "orders") as reader:
            assert export(settings).exit_code == 0
        state.first_reads, state.after_first = reader.seen, local_tables(data_dir)
        assert reader.error is None
        state.versions.append(versions(state.lake))
        state.positions_before_second = per_account(
            delta_table(state.lake, "positions").to_pyarrow_table()
        )

        # count the lake's commits of run 2 by table, and by round of publishing
        publish = warehouse.lake.Lake.publish_table
        publish_pending = warehouse.parquet.publish_pending
        rounds = threading.Lock()  # tables of a round are published at once

        def counted_publish(self, con, table, partitions):
            with rounds:
                state.second_publishes[table.name] += 1
                state.second_rounds[-1].append(table.name)
            return publish(self, con, table, partitions)

        def counted_round(*args, **kwargs):
            state.second_rounds.append([])
            return publish_pending(*args, **kwargs)

        mp.setattr(warehouse.lake.Lake, "publish_table", counted_publish)
        mp.setattr(warehouse.parquet, "publish_pending", counted_round)
        with Reader(state.lake, "positions") as reader:
            assert export(settings).exit_code == 0
        state.second_reads = reader.seen
        assert reader.error is None
        mp.setattr(warehouse.lake.Lake, "publish_table", publish)
        mp.setattr(warehouse.parquet, "publish_pending", publish_pending)
        state.versions.append(versions(state.lake))
        yield state


def test_every_table_in_the_lake_equals_the_local_database(published):
    assert_lake_equals_local(published.lake, published.data_dir)
    con = connect_readonly(published.data_dir)
    try:
        for table in PUBLISHED.values():
            assert published.lake.problems(con, table) == [], table.name
    finally:
        con.close()
    orders = per_account(delta_table(published.lake, "orders").to_pyarrow_table())
    assert set(orders) == ACCOUNTS and min(orders.values()) > 100


def test_status_checks_the_lake_not_the_empty_local_parquet(published):
    from flows.app.status import status_report

    text, attention = status_report(published.data_dir, publisher=LakePublisher(published.lake))
    assert not attention, text
    assert f"lake: {published.url}" in text
    assert "lake: every partition matches DuckDB" in text


def test_polars_reads_the_same_rows(published):
    import polars as pl

    lake, local = published.lake, local_tables(published.data_dir)
    orders = pl.read_delta(lake.table_uri("orders"))
    assert orders.height == len(local["orders"])
    ids = sorted(orders.select("account_id", "order_id").iter_rows())
    columns = PUBLISHED["orders"].column_names
    at = columns.index("account_id"), columns.index("order_id")
    assert ids == sorted((row[at[0]], row[at[1]]) for row in local["orders"])
    positions = (
        pl.scan_delta(lake.table_uri("positions")).group_by("account_id").agg(pl.len()).collect()
    )
    by_account = collections.Counter(row[0] for row in local["positions"])
    assert dict(positions.iter_rows()) == dict(by_account)


def test_database_and_raw_runs_are_copied_and_nothing_is_left_in_parquet(published):
    store, data_dir = published.lake.store, published.data_dir
    keys = set(store.list(""))
    assert "duckdb/warehouse.duckdb" in {k for k in keys if k.startswith("duckdb/")}
    assert held_leases(published.lake) == []  # released at the end of each run
    copy = data_dir.parent / "downloaded.duckdb"
    assert store.get_file("duckdb/warehouse.duckdb", copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        runs = con.execute("SELECT count(*) FROM runs WHERE outcome = 'success'").fetchall()
    assert runs == [(2,)]

    local_runs = sorted(p.parent for p in (data_dir / RAW_DIR).glob("*/*/*/complete.json"))
    assert len(local_runs) >= 2 * len(ACCOUNTS)
    for run in local_runs:
        assert (run / ".uploaded").is_file()
        key = f"raw/{run.relative_to(data_dir / RAW_DIR).as_posix()}"
        uploaded = {k.rsplit("/", 1)[1] for k in keys if k.startswith(key + "/")}
        pages = any(run.glob("page-*"))
        # a run is two objects, its pages in one batch and the manifest (no batch: no pages)
        assert uploaded == ({"pages.gz", "manifest.json"} if pages else {"manifest.json"})

    # the datasets live in the lake: the local directory stays, empty
    assert (data_dir / "parquet").is_dir()
    assert [p for p in (data_dir / "parquet").rglob("*")] == []


def test_each_publish_is_one_commit_per_table_and_files_do_not_pile_up(published):
    first, second = published.versions
    gained = {name: second[name] - first[name] for name in PUBLISHED}
    # a version per publish of a table, none more (a retry or a rewrite would add one)
    assert gained == {name: published.second_publishes[name] for name in PUBLISHED}
    for tables in published.second_rounds:
        assert len(tables) == len(set(tables)), tables
    # history that did not change is not written again; each account's snapshot is
    assert all(gained[name] == 0 for name in ("orders", "fills", "dividends", "transactions"))
    assert gained["positions"] >= 1
    assert sum(gained.values()) <= 4 * len(PUBLISHED)

    local = local_tables(published.data_dir)
    for name, table in PUBLISHED.items():
        files = delta_table(published.lake, name).file_uris()
        columns = table.column_names
        keys = lake_partitions(table)
        partitions = {tuple(row[columns.index(k)] for k in keys) for row in local[name]}
        # per partition with rows, at most a file per run that added rows to it (merges
        # and the run log's appends add files; the daily compaction joins them), whatever
        # the number of commits
        if table.kind in MERGED_KINDS or table.kind == TableKind.LOG:
            assert len(partitions) <= len(files) <= 2 * len(partitions), name
        else:
            assert len(files) == (len(partitions) if keys else min(1, len(local[name]))), name


def test_each_commit_of_a_run_changes_only_that_runs_snapshot_partitions(published):
    """Run 2's snapshot commits replace the partitions of its own snapshot day, and no
    older snapshot of any account (one commit may carry several accounts' partitions)."""
    first, second = published.versions
    name = "positions"
    assert second[name] > first[name]
    for version in range(first[name] + 1, second[name] + 1):
        before = set(delta_table(published.lake, name, version - 1).file_uris())
        after = set(delta_table(published.lake, name, version).file_uris())
        changed = before ^ after
        days = {uri.split("snapshot_date=")[1].split("/")[0] for uri in changed}
        assert len(days) == 1, (version, changed)
        assert len(after) >= len(before), (version, changed)


def test_readers_see_whole_accounts_only(published):
    after = collections.Counter(row[0] for row in published.after_first["orders"])
    reads = published.first_reads
    assert len(reads) >= 5
    for _, counts in reads:
        for account, rows in counts.items():
            assert rows == after[account], counts
    assert len({version for version, _ in reads}) >= 2  # the reads overlapped commits

    before = published.positions_before_second
    final = per_account(delta_table(published.lake, "positions").to_pyarrow_table())
    reads = published.second_reads
    assert len(reads) >= 5
    for _, counts in reads:
        assert set(counts) == ACCOUNTS
        for account, rows in counts.items():
            assert rows in (before[account], final[account]), counts
    assert len({version for version, _ in reads}) >= 2
    assert {tuple(sorted(c.items())) for _, c in reads} >= {
        tuple(sorted(before.items())),
        tuple(sorted(final.items())),
    }


def test_sql_command_reads_the_lake_with_its_views(published, tmp_path):
    query = (
        "SELECT (SELECT count(*) FROM orders) AS orders, "
        "(SELECT count(*) FROM positions_latest) AS latest, "
        "(SELECT count(*) FROM holdings_daily) > 0 AS holdings"
    )
    code, out, err = run_cli(
        "sql",
        "--storage-url",
        published.url,
        "--format",
        "csv",
        query,
        env=aws_env(published.endpoint),
        cwd=tmp_path,
    )
    assert code == 0, err
    con = connect_readonly(published.data_dir)
    try:
        expected = con.execute(query).fetchall()[0]
    finally:
        con.close()
    assert expected[0] == len(published.after_first["orders"]) and expected[1] > 0
    assert out.strip().splitlines()[1] == ",".join(map(str, expected))
    assert SECRET_KEY not in out + err


def test_no_object_in_the_lake_holds_the_secret_key(published):
    lake = published.lake
    assert SECRET_KEY not in repr(lake) + repr(lake.store) + str(vars(lake))
    keys = list(lake.store.list(""))
    assert len(keys) > 50
    for key in keys:
        assert SECRET_KEY.encode() not in read_bytes(lake.store, key), key
