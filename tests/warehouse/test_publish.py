"""Publishing the database atomically past open readers, the run lock and read-only access."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.pipeline.merging import publish_parquet_safely
from tests.warehouse.conftest import T0, T1, dividend, rows_table
from warehouse import Warehouse, WarehouseLocked, WarehouseMissing, connect_readonly
from warehouse.merge import Load
from warehouse.publisher import LocalParquet

READER = textwrap.dedent(
    """
    import sys
    import duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    count = lambda: con.sql('SELECT count(*), sum(amount) FROM dividends').fetchall()[0]
    print("before", *count(), flush=True)
    sys.stdin.readline()  # wait while the writer publishes a new file
    print("after", *count(), flush=True)
    """
)


def _open_inodes(pid, name):
    """Inodes of the files called ``name`` that process ``pid`` holds open."""
    fds = Path(f"/proc/{pid}/fd")
    return {os.stat(fd).st_ino for fd in fds.iterdir() if name in os.readlink(fd)}


def _add(wh, ref, amount, run_id, at):
    rows = rows_table("dividends", [dividend(ref, amount)], run_id=run_id, loaded_at=at)
    wh.merge_resource(Load("dividends", 1, run_id, at), {"dividends": rows}, None)


def test_publish_replaces_the_file_while_a_reader_keeps_its_snapshot(tmp_path):
    data = tmp_path / "data"
    with Warehouse.open(data) as wh:
        _add(wh, "a", "1.25", "r0", T0)
        wh.publish_database()
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(data / "warehouse.duckdb")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert reader.stdout.readline().split() == ["before", "1", "1.2500000000"]
            old_inode = (data / "warehouse.duckdb").stat().st_ino
            assert _open_inodes(reader.pid, "warehouse.duckdb") == {old_inode}
            _add(wh, "b", "2.5", "r1", T1)
            started = time.monotonic()
            wh.publish_database()
            assert time.monotonic() - started < 5
            # a new file took the name; the reader still holds the old one
            assert (data / "warehouse.duckdb").stat().st_ino != old_inode
            assert _open_inodes(reader.pid, "warehouse.duckdb") == {old_inode}
            # the writer keeps working after publishing
            _add(wh, "c", "3", "r2", T1)
            out, _ = reader.communicate("go\n", timeout=30)
        finally:
            reader.kill()
        assert out.split() == ["after", "1", "1.2500000000"]
        fresh = connect_readonly(data)
        try:
            assert fresh.sql("SELECT count(*) FROM dividends").fetchall() == [(2,)]
        finally:
            fresh.close()


def test_readers_cannot_write_the_published_file(tmp_path):
    data = tmp_path / "data"
    with Warehouse.open(data) as wh:
        _add(wh, "a", "1", "r0", T0)
        wh.publish()
    con = connect_readonly(data)
    try:
        assert con.sql("SELECT count(*) FROM positions_latest").fetchall() == [(0,)]
        with pytest.raises(Exception, match="read-only"):
            con.execute("DELETE FROM dividends")
    finally:
        con.close()


def test_connect_readonly_before_any_publish_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseMissing, match="no warehouse at"):
        connect_readonly(tmp_path)


def test_a_second_open_waits_then_raises_warehouse_locked(tmp_path):
    data = tmp_path / "data"
    with Warehouse.open(data):
        started = time.monotonic()
        with pytest.raises(WarehouseLocked, match="another t212-etl run") as err:
            Warehouse.open(data, lock_timeout=0.3)
        waited = time.monotonic() - started
        assert 0.3 <= waited < 3
        assert "\n" not in str(err.value)
    with Warehouse.open(data, lock_timeout=0.3) as again:
        assert again.count_rows("dividends") == 0


def test_lock_is_held_against_other_processes(tmp_path):
    data = tmp_path / "data"
    probe = textwrap.dedent(
        f"""
        from warehouse import Warehouse, WarehouseLocked
        try:
            Warehouse.open({str(data)!r}, lock_timeout=0.1)
        except WarehouseLocked as exc:
            print("locked:", exc)
        """
    )
    with Warehouse.open(data):
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
        )
    assert done.stdout.startswith("locked: another t212-etl run"), done.stderr


def test_working_database_is_seeded_from_the_published_one(tmp_path):
    data = tmp_path / "data"
    with Warehouse.open(data) as wh:
        _add(wh, "a", "1", "r0", T0)
        wh.publish()
    (data / ".work" / "warehouse.duckdb").unlink()
    with Warehouse.open(data) as wh:
        assert wh.count_rows("dividends") == 1


def test_publish_without_reopening_leaves_the_database_closed_and_the_lock_held(tmp_path):
    data = tmp_path / "data"
    with Warehouse.open(data) as wh:
        _add(wh, "a", "1.5", "r0", T0)
        wh.publish(reopen=False)
        with pytest.raises(RuntimeError, match="closed"):
            _ = wh.connection
        with pytest.raises(WarehouseLocked):
            Warehouse.open(data)
    assert oct((data / "warehouse.duckdb").stat().st_mode & 0o777) == oct(0o600)
    con = connect_readonly(data)
    try:
        assert con.sql("SELECT count(*), sum(amount) FROM dividends").fetchall()[0][0] == 1
    finally:
        con.close()
    with Warehouse.open(data) as again:  # the lock was released by the close
        assert again.count_rows("dividends") == 1


class _Waiting(LocalParquet):
    """Local Parquet whose first ``step`` (``publish`` or ``problems``) waits until the
    test lets it finish."""

    def __init__(self, data_dir, step):
        super().__init__(data_dir)
        self.step = step
        self.entered, self.release = threading.Event(), threading.Event()

    def _wait(self, step):
        if step == self.step and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(60)

    def publish(self, con, pending):
        self._wait("publish")
        return super().publish(con, pending)

    def problems(self, con, newer_than=None):
        self._wait("problems")
        return super().problems(con, newer_than)


def test_a_merge_does_not_wait_for_a_publish_under_way_and_the_next_takes_its_rows(tmp_path):
    publisher = _Waiting(tmp_path / "data", "publish")
    with Warehouse.open(tmp_path / "data", publisher=publisher) as wh:
        _add(wh, "a", "1.5", "r0", T0)
        under_way = threading.Thread(target=wh.publish_parquet)
        under_way.start()  # another thread's publish (the run's repair) holds the warehouse
        assert publisher.entered.wait(60)
        skipped = []
        merge = threading.Thread(target=lambda: skipped.append(publish_parquet_safely(wh)))
        merge.start()
        merge.join(60)
        # done while the other publish still waits: a blocked call would still be running
        assert not merge.is_alive() and skipped == [None] and not publisher.release.is_set()
        publisher.release.set()
        under_way.join(60)
        _add(wh, "b", "2.5", "r1", T1)
        wh.published_at = float("-inf")
        assert publish_parquet_safely(wh) is None
        assert wh.count_rows("pending_publish") == 0
    files = pq.read_table(tmp_path / "data" / "parquet" / "dividends").column("reference")
    assert sorted(files.to_pylist()) == ["a", "b"]


def test_merges_go_on_while_the_repair_checks_the_published_copy(tmp_path):
    publisher = _Waiting(tmp_path / "data", "problems")
    with Warehouse.open(tmp_path / "data", publisher=publisher) as wh:
        _add(wh, "a", "1.5", "r0", T0)
        wh.publish_parquet()
        (tmp_path / "data" / "parquet" / "dividends").rename(tmp_path / "gone")
        repair = threading.Thread(target=lambda: fixed.extend(wh.repair_parquet()))
        fixed: list[str] = []
        repair.start()
        assert publisher.entered.wait(60)
        merge = threading.Thread(target=_add, args=(wh, "b", "2.5", "r1", T1))
        merge.start()
        merge.join(60)
        # merged while the check still waits: a merge held by the repair would still run
        assert not merge.is_alive() and not publisher.release.is_set()
        publisher.release.set()
        repair.join(60)
        assert fixed and wh.count_rows("dividends") == 2
        wh.publish_parquet()
    files = pq.read_table(tmp_path / "data" / "parquet" / "dividends").column("reference")
    assert sorted(files.to_pylist()) == ["a", "b"]
