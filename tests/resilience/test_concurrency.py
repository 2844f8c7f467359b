"""Readers and a second run while a run writes: old or new data, never a mix, never blocked."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pytest

from sandbox import DEMO_ACCOUNT_ID, Sandbox
from tests.flows.harness import export, sandbox_config, scalar, settings_for

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM dividends").fetchall()[0][0], flush=True)
sys.stdin.readline()  # hold the file open until told
print(con.execute("SELECT count(*) FROM dividends").fetchall()[0][0], flush=True)
"""


def test_a_reader_holding_the_database_neither_blocks_nor_sees_a_mix(tmp_path):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, data_dir)
        assert export(settings).exit_code == 0
        before = sb.truth(DEMO_ACCOUNT_ID)["dividends"]["count"]
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(data_dir / "warehouse.duckdb")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert int(reader.stdout.readline()) == before
            sb.advance(days=400)
            assert export(settings).exit_code == 0  # the reader does not block the run
            reader.stdin.write("go\n")
            reader.stdin.flush()
            assert int(reader.stdout.readline()) == before  # its snapshot, unchanged
        finally:
            reader.kill()
            reader.wait()
        after = sb.truth(DEMO_ACCOUNT_ID)["dividends"]["count"]
        assert after > before
        assert scalar(data_dir, "SELECT count(*) FROM dividends") == after


@pytest.mark.slow  # readers throughout exports
def test_parquet_readers_see_old_or_new_partitions_never_a_broken_one(tmp_path):
    data_dir = tmp_path / "data"
    pattern = str(data_dir / "parquet" / "dividends" / "**" / "*.parquet")
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, data_dir)
        assert export(settings).exit_code == 0
        before = sb.truth(DEMO_ACCOUNT_ID)["dividends"]["count"]
        sb.advance(days=400)
        after = sb.truth(DEMO_ACCOUNT_ID)["dividends"]["count"]
        seen, errors, done = [], [], threading.Event()

        def read_until_done() -> None:
            con = duckdb.connect()
            while not done.is_set():
                try:
                    sql = f"SELECT count(*) FROM read_parquet('{pattern}')"
                    seen.append(con.execute(sql).fetchall()[0][0])
                except duckdb.Error as exc:
                    errors.append(str(exc))

        reader = threading.Thread(target=read_until_done)
        reader.start()
        try:
            for _ in range(3):
                assert export(settings, full_refresh=True).exit_code == 0
        finally:
            done.set()
            reader.join()
    assert not errors
    assert len(seen) > 10 and set(seen) <= {before, after} and seen[-1] == after


@pytest.mark.slow  # two whole exports at once
def test_two_runs_at_once_queue_on_the_lock_and_load_exactly_once(tmp_path):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, data_dir)
        with ThreadPoolExecutor(2) as pool:
            runs = [pool.submit(export, settings, lock_timeout=60) for _ in range(2)]
            results = [r.result() for r in runs]
        assert [r.exit_code for r in results] == [0, 0]
        truth = sb.truth(DEMO_ACCOUNT_ID)
    for table, key in (("dividends", "reference"), ("transactions", "reference")):
        assert (
            scalar(data_dir, f'SELECT count(DISTINCT "{key}") FROM "{table}"')
            == truth[table]["count"]
        )
        assert scalar(data_dir, f'SELECT count(*) FROM "{table}"') == truth[table]["count"]
    assert scalar(data_dir, "SELECT count(*) FROM runs WHERE outcome = 'success'") == 2
