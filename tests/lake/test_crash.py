"""SIGKILL amid the lake's publishing: the lake stays whole, and the next run completes it."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb

from sandbox import Sandbox
from tests.flows.harness import export, killed_export, sandbox_config, settings_for
from tests.lake.checks import assert_lake_equals_local, delta_table, held_leases, per_account
from tests.lake.s3 import SECRET_KEY
from warehouse import connect_readonly
from warehouse.bookkeeping import PENDING_PUBLISH
from warehouse.lake import Lake, lake_partitions
from warehouse.parquet import PUBLISHED
from warehouse.store import WORK_DIR

# the 18th table publish of a first run, of 21 to 24: the run's check beside the merges
# publishes every table once more when it runs after the first account's rows are in (24),
# not when it runs before (21); the 24th, chosen before, was the last of the first case and
# missed the second. Killed at the 18th, some accounts' tables are published, some pending.
CRASH_AT = "lake:18"


def committed(data_dir: Path) -> tuple[dict[str, dict[int, int]], int]:
    """What the killed run had committed: rows per account of each per-account table, and
    how many partitions were still to publish."""
    work = data_dir / WORK_DIR
    copy = data_dir.parent / "committed"
    copy.mkdir()
    for path in work.glob("warehouse.duckdb*"):
        shutil.copy(path, copy / path.name)
    con = duckdb.connect(str(copy / "warehouse.duckdb"))  # replays the WAL it left
    try:
        counts = {
            name: dict(
                con.execute(f'SELECT account_id, count(*) FROM "{name}" GROUP BY ALL').fetchall()
            )
            for name, table in PUBLISHED.items()
            if lake_partitions(table)
        }
        pending = con.execute(f'SELECT count(*) FROM "{PENDING_PUBLISH.name}"').fetchall()
        return counts, pending[0][0]
    finally:
        con.close()


def test_killed_in_the_lake_publish_then_rerun_equals_local(storage_url, tmp_path, caplog):
    data_dir = tmp_path / "data"
    names = ("invest",)
    with Sandbox(sandbox_config()) as sb:
        code, err = killed_export(
            sb.base_url, data_dir, CRASH_AT, storage_url=storage_url, names=names
        )
        assert code == -9, f"the run was not killed at {CRASH_AT}: {code} {err[-500:]}"
        lake, (counts, pending) = Lake(storage_url), committed(data_dir)

        # every table reads whole, its data as the commit log counts it, and each account
        # is either not published yet or published as the killed run had committed it
        published = 0
        for name, table in PUBLISHED.items():
            data = delta_table(lake, name).to_pyarrow_table()
            stats = lake.counts(table)
            assert data.num_rows == sum(stats.values()), name
            if not lake_partitions(table):
                continue
            assert per_account(data) == {a: n for a, n in stats.items() if n}, name
            for account, rows in counts[name].items():
                found = per_account(data).get(account, 0)
                assert found in (0, rows), (name, account, found, rows)
                published += found == rows > 0
        assert published >= 2 and pending > 0  # killed half way through publishing

        settings = settings_for(sb, data_dir, names=names, storage_url=storage_url)
        with caplog.at_level(logging.DEBUG):
            assert export(settings).exit_code == 0
    assert caplog.records and SECRET_KEY not in caplog.text
    assert_lake_equals_local(lake, data_dir)
    con = connect_readonly(data_dir)
    try:
        assert [m for t in PUBLISHED.values() for m in lake.problems(con, t)] == []
    finally:
        con.close()
    assert held_leases(lake) == []  # the killed run's lease was taken over, then released
