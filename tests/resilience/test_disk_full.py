"""A full disk under the Parquet and the DuckDB writers: a clean failure, nothing half
written, and the next run completes the job."""

from __future__ import annotations

import errno

import duckdb

import warehouse.merge
import warehouse.parquet
from sandbox import Sandbox
from tests.flows.harness import db_contents, export, parquet_contents, sandbox_config, settings_for
from tests.resilience.test_faults import assert_exact
from transforms.catalogue import TABLES

FULL = "No space left on device"


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
        for name in TABLES:
            assert parquet_contents(data_dir, name) == db_contents(data_dir, name), name
        assert export(settings).exit_code == 0
        assert_exact(data_dir, sb)


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

        with monkeypatch.context() as patch:
            patch.setattr(warehouse.merge, "merge_staged", full_for_dividends)
            failed = export(settings)
        assert failed.exit_code == 1
        (error,) = failed.errors()
        assert "dividends" in error and FULL in error
        assert db_contents(data_dir, "dividends") == before
        assert db_contents(data_dir, "load_state", "WHERE resource = 'dividends'") == state
        assert export(settings).exit_code == 0
        assert_exact(data_dir, sb)


def test_missing_or_corrupt_partitions_are_repaired_by_the_next_run(tmp_path):
    from flows.status import status_report

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
    for name in TABLES:
        assert parquet_contents(data_dir, name) == db_contents(data_dir, name), name
