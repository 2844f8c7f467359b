"""A full disk under the Parquet and the DuckDB writers: a clean failure, nothing half
written, and the next run completes the job."""

from __future__ import annotations

import errno
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import warehouse.merge
import warehouse.parquet
from sandbox import Sandbox
from tests.flows.harness import (
    assert_parquet_equals_duckdb,
    db_contents,
    export,
    sandbox_config,
    settings_for,
)
from tests.resilience.test_crash import leftovers
from tests.resilience.test_faults import assert_exact
from transforms.catalogue import TABLES
from warehouse import connect_readonly
from warehouse.runlog import RunLog

FULL = "No space left on device"
NO_ROOM = re.compile(f"{FULL}|File too large")
ROOT = Path(__file__).resolve().parents[2]
# Bytes free on the small disk beyond a copy of the first run's data directory, and what
# the next run finds no room for: with 200 KiB, DuckDB's log of some resources (or the
# checkpoint of a commit) and mostly the Parquet writer; with 480 KiB, the checkpoint
# that writes the log into the database.
SPARE = {"log-and-parquet": 200 << 10, "checkpoint": 480 << 10}


@pytest.mark.slow  # a full disk, then whole exports
def test_parquet_writer_on_a_full_disk(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, data_dir)
        assert export(settings).exit_code == 0
        sb.advance(days=300)

        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, FULL)

        with monkeypatch.context() as patch:
            patch.setattr(warehouse.parquet, "write_partition", full)
            failed = export(settings)
        assert failed.exit_code == 1
        assert any(FULL in e and "next run" in e for e in failed.errors())
        # readers still see one consistent earlier state, in DuckDB and in Parquet alike
        assert_parquet_equals_duckdb(data_dir)
        assert export(settings).exit_code == 0
        assert_exact(data_dir, sb)


@pytest.mark.slow  # a full disk, then whole exports
def test_duckdb_writer_on_a_full_disk(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, data_dir)
        assert export(settings).exit_code == 0
        sb.advance(days=300)
        before = db_contents(data_dir, "dividends")
        state = db_contents(data_dir, "load_state", "WHERE resource = 'dividends'")
        real_merge = warehouse.merge.merge_staged

        def full_for_dividends(con, table, *args, **kwargs):
            if table.name == "dividends":
                raise duckdb.IOException(f"Could not write file: {FULL}")
            return real_merge(con, table, *args, **kwargs)

        def full_log(*args, **kwargs):
            raise duckdb.IOException(f"Could not write file: {FULL}")

        with monkeypatch.context() as patch:
            patch.setattr(warehouse.merge, "merge_staged", full_for_dividends)
            patch.setattr(RunLog, "record_run_log", full_log)
            failed = export(settings)
        assert failed.exit_code == 1
        error, log_error = failed.errors()
        assert "dividends" in error and FULL in error
        assert log_error.startswith("the run log could not be written") and FULL in log_error
        assert db_contents(data_dir, "dividends") == before
        assert db_contents(data_dir, "load_state", "WHERE resource = 'dividends'") == state
        assert export(settings).exit_code == 0
        assert_exact(data_dir, sb)


@pytest.mark.slow  # whole exports
def test_missing_or_corrupt_partitions_are_repaired_by_the_next_run(tmp_path):
    from flows.app.status import status_report

    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, data_dir)
        assert export(settings).exit_code == 0
        next((data_dir / "parquet" / "orders").rglob("data.parquet")).unlink()
        fills = next((data_dir / "parquet" / "fills").rglob("data.parquet"))
        fills.write_bytes(b"PAR1 not really")
        text, attention = status_report(data_dir)
        assert attention and "PARQUET: 2 problem(s)" in text
        assert export(settings).exit_code == 0
    text, attention = status_report(data_dir)
    assert not attention, text
    assert_parquet_equals_duckdb(data_dir)


def namespaces_work() -> tuple[bool, str]:
    """Whether this machine lets a process mount a tmpfs in a namespace of its own, and why not."""
    probe = "mount -t tmpfs -o size=1m tmpfs /mnt"
    try:
        done = subprocess.run(["unshare", "-rm", "sh", "-c", probe], capture_output=True)
    except FileNotFoundError:
        return False, "no unshare command"
    return done.returncode == 0, done.stderr.decode(errors="replace").strip()


def tmpfs_expected() -> bool:
    """Whether the kernel allows user namespaces here, so the tmpfs must be the mode that runs."""

    def value(path: str, default: str) -> str:
        try:
            return Path(path).read_text().strip()
        except OSError:
            return default

    return (
        sys.platform == "linux"
        and shutil.which("unshare") is not None
        and int(value("/proc/sys/user/max_user_namespaces", "0")) > 0
        and value("/proc/sys/kernel/unprivileged_userns_clone", "1") == "1"
        and value("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "0") == "0"
    )


MOUNTED, WHY_NOT = namespaces_work()
# the mode the full-disk test runs in, named in its id: a real tmpfs, or a file size limit
# where this machine allows no user namespace (the limit stops big files only)
MODE = "tmpfs" if MOUNTED else "file-size-limit"


def test_the_full_disk_test_runs_on_a_real_tmpfs_where_the_kernel_allows_it():
    assert MOUNTED or not tmpfs_expected(), (
        f"user namespaces are allowed here, yet mounting a tmpfs in one failed: {WHY_NOT}"
    )


def keys(data_dir: Path, name: str, *, parquet: bool) -> set[tuple]:
    """The natural keys of a table, as a reader of the DuckDB file or of Parquet sees them."""
    cols = ", ".join(f'"{c}"' for c in TABLES[name].key)
    source = f'"{name}"'
    if parquet:
        if not any((data_dir / "parquet" / name).rglob("*.parquet")):
            return set()
        files = data_dir / "parquet" / name / "**" / "*.parquet"
        source = f"read_parquet('{files}', hive_partitioning = true, union_by_name = true)"
    con = duckdb.connect() if parquet else connect_readonly(data_dir)
    try:
        return set(con.execute(f"SELECT {cols} FROM {source}").fetchall())
    finally:
        con.close()


@pytest.mark.parametrize("short_of", SPARE, ids=[f"{MODE}-{name}" for name in SPARE])
def test_a_real_full_disk_loses_nothing_and_the_next_run_completes(tmp_path, short_of):
    """A run on a filesystem with little to spare: writers run out of room mid-write;
    then, with room, the next run completes the job exactly."""
    source = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        assert export(settings_for(sb, source)).exit_code == 0
        committed = {n: keys(source, n, parquet=False) for n in TABLES}
        sb.advance(days=300)
        command = [sys.executable, "-m", "tests.resilience.smalldisk"]
        command += [str(source), str(tmp_path), sb.base_url, str(SPARE[short_of])]
        mounted = MOUNTED
        command = ["unshare", "-rm", *command] if mounted else [*command, "--fsize"]
        # a guard against a hang only: a busy machine took over 120 s
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        outcomes = json.loads((tmp_path / "outcomes.json").read_text())
        full, room = outcomes["full"], outcomes["room"]
        assert full["exit_code"] == 1, full
        assert all("\n" not in e and NO_ROOM.search(e) for e in full["errors"]), full
        if mounted:  # a file size limit stops the big files only
            failed = "\n".join(full["errors"])
            if short_of == "checkpoint":
                assert "publishing failed" in failed and "checkpoint" in failed, failed
            else:  # resources commit from threads: which write finds no room first varies
                # (DuckDB's log, or the checkpoint of a commit; then mostly the Parquet
                # writer, whose own full disk test_parquet_writer_on_a_full_disk covers)
                assert "warehouse.duckdb" in failed, failed
        # every row the first run committed is still there, for readers of either form
        for name in TABLES:
            assert committed[name] <= keys(tmp_path / "full", name, parquet=False), name
            assert committed[name] <= keys(tmp_path / "full", name, parquet=True), name
        assert room == {"exit_code": 0, "errors": []}
        assert_exact(tmp_path / "room", sb)
        assert leftovers(tmp_path / "room") == []
