"""A worker never removes from the lake rows it does not hold: the issue's three cases."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pytest

from flows.pipeline.imports import import_reports
from flows.pipeline.rebuild import rebuild
from flows.pipeline.storage import publisher_for
from sandbox import Sandbox
from tests.flows.harness import ACCOUNT_IDS, export, settings_for
from tests.lake.checks import (
    DEPOSITS,
    TINY,
    delta_table,
    deposits_csv,
    lake_tables,
    tiny_sandbox_config,
)
from transforms.catalogue import TABLES
from warehouse import connect_readonly
from warehouse.bookkeeping import BOOKKEEPING
from warehouse.catchup import catch_up, caught_up_tables
from warehouse.lakeclean import compact_tables
from warehouse.parquet import PUBLISHED

BOTH = ("invest", "isa")
INVEST, ISA = ACCOUNT_IDS["invest"], ACCOUNT_IDS["isa"]
CAUGHT_UP = [t.name for t in caught_up_tables()]


@pytest.fixture(scope="module")
def sandbox():
    """One small two-account sandbox for the module: the cases only read from it."""
    with Sandbox(tiny_sandbox_config()) as sb:
        yield sb


def per_account(rows: list[tuple], name: str) -> dict[int, int]:
    """Rows per account of a table's rows."""
    at = PUBLISHED[name].column_names.index("account_id")
    return dict(Counter(row[at] for row in rows))


def lake_counts(sb: Sandbox, url: str, name: str) -> dict[int, int]:
    """Rows per account of the lake's table ``name``."""
    return per_account(
        lake_tables(publisher_for(settings_for(sb, Path("."), BOTH, storage_url=url)).lake)[name],
        name,
    )


def run(sb: Sandbox, url: str, data_dir: Path, names=BOTH, **kw) -> None:
    """An in-process run of ``names`` (the worker's group) into the lake at ``url``."""
    settings = settings_for(sb, data_dir, BOTH, storage_url=url)
    summary = export(settings, account_names=list(names), **kw)
    assert summary.exit_code == 0, summary.errors()


@pytest.mark.slow  # several lake runs
def test_a_second_worker_with_an_empty_disk_keeps_the_earlier_snapshots(sandbox, tmp_path):
    url = f"file://{tmp_path / 'store'}"
    run(sandbox, url, tmp_path / "d0")
    run(sandbox, url, tmp_path / "d0")
    assert lake_counts(sandbox, url, "account_summaries") == {INVEST: 2, ISA: 2}
    run(sandbox, url, tmp_path / "d1", names=("invest",))
    assert lake_counts(sandbox, url, "account_summaries") == {INVEST: 3, ISA: 2}
    # the first worker again, its disk wiped: d1's snapshot stays too
    run(sandbox, url, tmp_path / "d0-wiped")
    assert lake_counts(sandbox, url, "account_summaries") == {INVEST: 4, ISA: 3}
    lake = publisher_for(settings_for(sandbox, tmp_path, BOTH, storage_url=url)).lake
    names = PUBLISHED["positions"].column_names
    at = names.index("account_id"), names.index("snapshot_at")
    snapshots = {(r[at[0]], r[at[1]]) for r in lake_tables(lake)["positions"]}
    assert Counter(account for account, _ in snapshots) == {INVEST: 4, ISA: 3}


def test_two_machines_taking_turns_on_one_group_keep_the_orders(sandbox, tmp_path, storage_url):
    run(sandbox, storage_url, tmp_path / "wA", names=("isa",), only=["positions"])
    run(sandbox, storage_url, tmp_path / "wB", names=("isa",))
    orders = lake_counts(sandbox, storage_url, "orders")
    assert orders[ISA] >= TINY.orders
    run(sandbox, storage_url, tmp_path / "wA", names=("isa",), only=["positions"])
    assert lake_counts(sandbox, storage_url, "orders") == orders
    # and the worker caught up: its own database holds the orders it never fetched
    con = connect_readonly(tmp_path / "wA")
    try:
        local = con.execute("SELECT count(*) FROM orders").fetchall()[0][0]
    finally:
        con.close()
    assert local == orders[ISA]


@pytest.mark.slow  # several lake runs
def test_a_run_never_rewrites_an_account_it_holds_no_lease_for(sandbox, tmp_path):
    url = f"file://{tmp_path / 'store'}"
    settings = settings_for(sandbox, tmp_path / "v1", BOTH, storage_url=url)
    run(sandbox, url, tmp_path / "d0")
    rebuild(tmp_path / "v1", publisher=publisher_for(settings))
    import_reports(
        tmp_path / "v2",
        [deposits_csv(tmp_path / "deposits.csv")],
        account_id=ISA,
        publisher=publisher_for(settings_for(sandbox, tmp_path / "v2", BOTH, storage_url=url)),
    )
    before = lake_counts(sandbox, url, "activity")
    assert before[ISA] == DEPOSITS
    run(sandbox, url, tmp_path / "v1", names=("invest",))
    assert lake_counts(sandbox, url, "activity").get(ISA) == DEPOSITS


@pytest.mark.slow  # several lake runs
def test_catch_up_reads_only_what_it_lacks_and_compaction_keeps_every_row(sandbox, tmp_path):
    url = f"file://{tmp_path / 'store'}"
    run(sandbox, url, tmp_path / "d0")
    run(sandbox, url, tmp_path / "d0")
    lake = publisher_for(settings_for(sandbox, tmp_path, BOTH, storage_url=url)).lake
    con = duckdb.connect()
    for table in (*TABLES.values(), *BOOKKEEPING.values()):
        con.execute(table.duckdb_ddl())
    lake_rows = sum(len(rows) for name, rows in lake_tables(lake).items() if name in CAUGHT_UP)
    assert catch_up(con, lake, [INVEST, ISA]) == lake_rows > 100
    assert catch_up(con, lake, [INVEST, ISA]) == 0  # in step: no file read again

    files = {name: len(delta_table(lake, name).file_uris()) for name in CAUGHT_UP}
    before = lake_tables(lake)
    lake.held = frozenset({INVEST, ISA})
    assert compact_tables(lake, con, PUBLISHED.values()) > 0
    assert lake_tables(lake) == before
    after = {name: len(delta_table(lake, name).file_uris()) for name in CAUGHT_UP}
    # two runs on one day left two files per snapshot partition: one stays
    assert after["positions"] == files["positions"] // 2 == 2
    # the compaction's commits hold nothing new for this database: nothing is read back
    assert catch_up(con, lake, [INVEST, ISA]) == 0
