"""Leftovers of a killed process are removed by the next one to take the lock; nothing else is."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from warehouse import Warehouse, WarehouseLocked

# what a process killed while writing leaves behind, by the writer that names it so
LEFTOVERS = [
    ".warehouse.duckdb.k3j_h5g6.tmp",  # the published copy (atomic_path)
    ".work/.warehouse.duckdb.ab12cd34.tmp",  # the working copy of the published file
    ".work/rebuilding.duckdb",  # a rebuild's new database
    ".work/rebuilding.duckdb.wal",
    ".work/rebuilding.duckdb.tmp/duckdb_temp_4242_0_storage_DEFAULT-0.tmp",  # its spill files
    ".work/warehouse.duckdb.tmp/duckdb_temp_4242_0_storage_S64K-0.tmp",  # the working one's
    ".work/publishing.duckdb",  # the published copy being written in the older format
    ".work/publishing.duckdb.wal",
    ".work/publishing.duckdb.tmp/duckdb_temp_4242_0_storage_DEFAULT-0.tmp",
    ".work/warehouse.duckdb.tmp/duckdb_temp_4242_0_owner",
    "raw/1/dividends/r1/.page-00002.json.gz.4242-139871.tmp",  # write_quick
    "raw/1/dividends/r1/.page-00002.meta.json.4242-139871.tmp",
    "raw/1/dividends/r1/.complete.json.x9y8z7w6.tmp",
    "raw/1/orders/r2/.run.json.abcdefgh.tmp",
    "parquet/dividends/account_id=1/.data.parquet.q1w2e3r4.tmp",
    "parquet/runs/.data.parquet.q1w2e3r4.tmp",
]
# files of the user's own, some named much like ours
KEPT = [
    "notes.tmp",
    ".warehouse.duckdb.backup.tmp",
    ".warehouse.duckdb.tmp",
    "warehouse.duckdb.k3j_h5g6.tmp",
    ".dashboard.html.abcdefgh.tmp",
    ".work/notes.tmp",
    ".work/warehouse.duckdb.tmp/notes.txt",
    "raw/1/dividends/r1/notes.tmp",
    "raw/1/dividends/r1/.page-00002.json.gz.tmp",
    "parquet/dividends/.data.parquet.tmp",
    "parquet/dividends/account_id=1/.data.parquet.q1w2e3r4.tmp.keep",
    "parquet/dividends/.notes.tmp",
]


def plant(root: Path, names: list[str], mtime: float) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (mtime, mtime))


def test_the_next_process_removes_leftovers_of_ours_and_nothing_else(tmp_path):
    data_dir = tmp_path / "data"
    Warehouse.open(data_dir).close()
    earlier = time.time() - 60
    plant(data_dir, LEFTOVERS + KEPT, earlier)
    # a writer alive when the lock was taken would hold files newer than it
    live = "raw/1/dividends/r1/.page-00003.json.gz.4343-139871.tmp"
    plant(data_dir, [live], time.time() + 60)
    with Warehouse.open(data_dir) as wh:
        wh.repair_parquet()
        left = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file())
    assert not [name for name in LEFTOVERS if name in left]
    assert [name for name in KEPT if name in left] == KEPT
    assert live in left
    assert not (data_dir / ".work" / "rebuilding.duckdb.tmp").exists()
    assert not (data_dir / ".work" / "publishing.duckdb.tmp").exists()


def test_a_process_refused_the_lock_removes_nothing(tmp_path):
    data_dir = tmp_path / "data"
    with Warehouse.open(data_dir):
        plant(data_dir, LEFTOVERS, time.time() - 60)
        with pytest.raises(WarehouseLocked):
            Warehouse.open(data_dir)
        assert all((data_dir / name).exists() for name in LEFTOVERS)
