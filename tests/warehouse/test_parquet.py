"""Parquet datasets equal DuckDB exactly; pending work survives crashes; check and repair."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.warehouse.conftest import T0, T1, dividend, position, rows_table, summary
from warehouse import Warehouse, parquet
from warehouse.merge import Load
from warehouse.parquet import PUBLISHED
from warehouse.rebuild import rebuilding

REPO = Path(__file__).resolve().parents[2]


def _load_sample(wh):
    wh.merge_resource(
        Load("dividends", 1, "r0", T0),
        {
            "dividends": rows_table(
                "dividends",
                [dividend("a", "0.0000000001"), dividend("b", "12345678901234.5678901234")],
            )
        },
        None,
    )
    wh.merge_resource(
        Load("dividends", 2, "r0", T0),
        {"dividends": rows_table("dividends", [dividend("a", "7", account=2)])},
        None,
    )
    for at in (T0, T1):
        wh.merge_resource(
            Load("positions", 1, "r0", at),
            {
                "positions": rows_table(
                    "positions",
                    [position("A", "1.5", "10.01", at=at), position("B", "2", "3", at=at)],
                )
            },
            None,
        )
        wh.merge_resource(
            Load("summary", 1, "r0", at),
            {"account_summaries": rows_table("account_summaries", [summary(at, "99.99")])},
            None,
        )
    wh.merge_resource(
        Load("exchanges", 0, "r0", T0),
        {"exchanges": rows_table("exchanges", [{"exchange_id": 1, "name": "LSE"}])},
        None,
    )
    wh.run_log.record_run("r0", started_at=T0, finished_at=T1, outcome="success", accounts=[1, 2])


def _parquet_table(wh, name):
    table = PUBLISHED[name]
    pattern = wh.parquet_dir / name / "**" / "*.parquet"
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    keys = ", ".join(f'"{k}"' for k in table.key)
    sql = f"SELECT {cols} FROM read_parquet('{pattern}', hive_partitioning=true) ORDER BY {keys}"
    return duckdb.sql(sql).to_arrow_table().cast(table.arrow_schema())


def _assert_parquet_equals_duckdb(wh):
    compared = 0
    for name in PUBLISHED:
        expected = wh.read_table(name)
        if expected.num_rows == 0:
            continue
        assert _parquet_table(wh, name).to_pylist() == expected.to_pylist(), name
        compared += 1
    return compared


def test_parquet_equals_duckdb_after_publish(wh):
    _load_sample(wh)
    assert wh.publish_parquet() > 0
    assert _assert_parquet_equals_duckdb(wh) == 5
    assert wh.check_parquet() == []
    assert wh.publish_parquet() == 0
    layout = sorted(str(p.relative_to(wh.parquet_dir)) for p in wh.parquet_dir.rglob("*.parquet"))
    assert "dividends/account_id=2/data.parquet" in layout
    assert "positions/account_id=1/snapshot_date=2024-03-02/data.parquet" in layout
    assert "exchanges/data.parquet" in layout and "runs/data.parquet" in layout
    # partition columns live in the directory names only, as Hive does
    assert "account_id" not in pq.read_schema(wh.parquet_dir / layout[0]).names


def test_pending_work_spanning_several_statements_is_recorded_published_and_cleared(
    wh, monkeypatch
):
    monkeypatch.setattr(parquet, "STATEMENT_ROWS", 2)
    _load_sample(wh)
    whole = {(name, parquet.WHOLE_TABLE) for name in ("dividends", "positions", "exchanges")}
    wh.connection.begin()
    parquet.add_pending(wh.connection, whole)
    wh.connection.commit()
    assert _pending(wh) >= 2 * parquet.STATEMENT_ROWS + 1
    assert wh.publish_parquet() == _PENDING_SAMPLE + len(whole)
    assert _pending(wh) == 0
    assert _assert_parquet_equals_duckdb(wh) == 5
    assert wh.check_parquet() == []


_PENDING_SAMPLE = 8  # partitions _load_sample leaves to publish


def _pending(wh) -> int:
    return wh.connection.sql("SELECT count(*) FROM pending_publish").fetchall()[0][0]


def test_parquet_is_exact_for_pyarrow_and_pandas(wh):
    _load_sample(wh)
    wh.publish_parquet()
    data = pq.read_table(wh.parquet_dir / "dividends", partitioning="hive")
    amounts = sorted(data.column("amount").to_pylist())
    assert amounts == [Decimal("0.0000000001"), Decimal("7"), Decimal("12345678901234.5678901234")]
    frame = pd.read_parquet(wh.parquet_dir / "positions")
    assert len(frame) == 4 and Decimal("10.01") in set(frame["wallet_impact_total_cost"])
    assert str(data.schema.field("paid_on").type) == "timestamp[us, tz=UTC]"


def test_only_affected_partitions_are_rewritten(wh):
    _load_sample(wh)
    wh.publish_parquet()
    one = wh.parquet_dir / "dividends" / "account_id=1" / "data.parquet"
    two = wh.parquet_dir / "dividends" / "account_id=2" / "data.parquet"
    before = (one.stat().st_ino, two.stat().st_ino)
    wh.merge_resource(
        Load("dividends", 1, "r1", T1),
        {"dividends": rows_table("dividends", [dividend("c", "1")])},
        None,
    )
    assert wh.publish_parquet() == 1
    assert one.stat().st_ino != before[0] and two.stat().st_ino == before[1]
    # an unchanged reload has nothing to publish
    wh.merge_resource(
        Load("dividends", 1, "r2", T1),
        {"dividends": rows_table("dividends", [dividend("c", "1")])},
        None,
    )
    assert wh.publish_parquet() == 0
    _assert_parquet_equals_duckdb(wh)


CRASH_AFTER_COMMIT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {repo!r})
    from tests.warehouse.conftest import T1, dividend, rows_table
    from warehouse import Warehouse
    from warehouse.merge import Load
    wh = Warehouse.open({data!r})
    rows = rows_table("dividends", [dividend("late", "5.5")])
    wh.merge_resource(Load("dividends", 1, "r1", T1), {{"dividends": rows}}, {{"after": "late"}})
    os._exit(0)  # dies between the commit and the Parquet publish
    """
)


def test_crash_between_commit_and_publish_is_repaired_by_next_publish(tmp_path):
    data = tmp_path / "data"
    with Warehouse.open(data) as wh:
        _load_sample(wh)
        wh.publish()
    script = CRASH_AFTER_COMMIT.format(repo=str(REPO), data=str(data))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    with Warehouse.open(data) as wh:
        assert wh.get_state(1, "dividends")["cursor"] == {"after": "late"}
        problems = wh.check_parquet()
        assert any("not yet published" in p for p in problems)
        assert wh.publish_parquet() == 1
        assert wh.check_parquet() == []
        assert _assert_parquet_equals_duckdb(wh) == 5
        assert Decimal("5.5") in _parquet_table(wh, "dividends").column("amount").to_pylist()


def test_check_detects_deleted_and_truncated_files_and_repair_fixes_them(wh):
    _load_sample(wh)
    wh.publish_parquet()
    deleted = wh.parquet_dir / "dividends" / "account_id=2" / "data.parquet"
    truncated = (
        wh.parquet_dir / "positions" / "account_id=1" / "snapshot_date=2024-03-01" / "data.parquet"
    )
    deleted.unlink()
    truncated.write_bytes(truncated.read_bytes()[:100])
    stray = wh.parquet_dir / "dividends" / "account_id=9" / "data.parquet"
    stray.parent.mkdir()
    stray.write_bytes(deleted.parent.parent.joinpath("account_id=1", "data.parquet").read_bytes())
    problems = wh.check_parquet()
    assert len(problems) == 3
    assert any(str(deleted) in p and "missing" in p for p in problems)
    assert any(str(truncated) in p and "unreadable" in p for p in problems)
    assert any(str(stray) in p and "not in DuckDB" in p for p in problems)
    assert sorted(wh.repair_parquet()) == sorted(problems)
    assert wh.check_parquet() == []
    assert not stray.parent.exists()
    assert _assert_parquet_equals_duckdb(wh) == 5


def test_a_rebuilt_database_publishes_nothing_until_swapped_in(wh):
    _load_sample(wh)
    wh.run_log.record_run("r0", started_at=T0, outcome="success")
    wh.publish()
    files = {p: p.read_bytes() for p in wh.parquet_dir.rglob("*.parquet")}
    with rebuilding(wh) as built:
        assert built.count_rows("dividends") == 0 and built.get_state(1, "dividends") is None
        assert built.count_rows("runs") == 1  # the run log is kept
        built.merge_resource(
            Load("dividends", 1, "r9", T1),
            {"dividends": rows_table("dividends", [dividend("a", "1")])},
            None,
        )
        assert built.publish_parquet() == 0
        assert wh.count_rows("dividends") == 3
    assert {p: p.read_bytes() for p in wh.parquet_dir.rglob("*.parquet")} == files
    assert wh.count_rows("dividends") == 1 and wh.count_rows("runs") == 1
    wh.publish_parquet()
    assert not (wh.parquet_dir / "dividends" / "account_id=2").exists()
    assert not (wh.parquet_dir / "positions" / "account_id=1").exists()
    assert pq.read_table(wh.parquet_dir / "runs" / "data.parquet").num_rows == 1
    assert wh.check_parquet() == []
    assert _assert_parquet_equals_duckdb(wh) == 2


def test_a_failed_rebuild_leaves_the_working_database_as_it_was(wh):
    _load_sample(wh)
    with pytest.raises(RuntimeError, match="replay failed"), rebuilding(wh) as built:
        built.merge_resource(
            Load("dividends", 1, "r9", T1),
            {"dividends": rows_table("dividends", [dividend("z", "1")])},
            None,
        )
        raise RuntimeError("replay failed")
    assert wh.count_rows("dividends") == 3
    assert not list(wh.work_db.parent.glob("rebuilding*"))


@pytest.mark.parametrize("fails", ["__init__", "write_table"])
def test_a_file_the_disk_has_no_room_for_leaves_the_connection_usable(wh, monkeypatch, fails):
    # more rows than one batch, so some are still unread when the write fails
    rows = [dividend(f"r{n}", "1.5") for n in range(50)]
    wh.merge_resource(
        Load("dividends", 1, "r0", T0), {"dividends": rows_table("dividends", rows)}, None
    )

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(parquet, "BATCH_ROWS", 10)
        patch.setattr(parquet.pq.ParquetWriter, fails, full)
        with pytest.raises(OSError, match="No space"):
            wh.publish_parquet()
    assert not list(wh.parquet_dir.rglob("*.tmp"))
    # the failed publish rolled back: its work is still pending, and the next one does it
    assert wh.publish_parquet() > 0
    assert wh.check_parquet() == []
