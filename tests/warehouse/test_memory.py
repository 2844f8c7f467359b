"""A history far larger than DuckDB's memory limit merges in one transaction, exactly.

Before, every data table had a primary key: DuckDB holds such an index in memory whole,
and each chunk's merge joined the whole uncommitted table, so a long first export ran out
of memory at any fixed limit. Old warehouses lose the key when they are opened.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from tests.warehouse.conftest import T0, T1
from transforms.catalogue import TABLES
from warehouse import MergeCounts, Warehouse, memory
from warehouse.bookkeeping import BOOKKEEPING
from warehouse.memory import MEMORY_ENV, memory_bytes
from warehouse.merge import Load

ROWS = 60_000
CHUNK = 300  # six pages of 50, as a rate-limited export merges them


def _dividends(start: int, count: int, amount: str = "1.5") -> dict[str, pa.Table]:
    schema = TABLES["dividends"].arrow_schema()
    columns = {
        "account_id": [7] * count,
        "reference": [f"ref-{i:09d}-{'x' * 40}" for i in range(start, start + count)],
        "ticker": [f"T{i % 500}_US_EQ" for i in range(start, start + count)],
        "paid_on": [T0] * count,
        "amount": [Decimal(amount) + i for i in range(count)],
        "currency": ["EUR"] * count,
        "_loaded_at": [T0] * count,
        "_run_id": ["r"] * count,
    }
    arrays = [pa.array(columns.get(f.name, [None] * count), f.type) for f in schema]
    return {"dividends": pa.Table.from_arrays(arrays, schema=schema)}


@pytest.fixture
def low_memory(monkeypatch):
    """DuckDB held to 24 MB, below what the history below takes with the old indexed tables."""
    monkeypatch.setattr(memory, "MEMORY_LIMIT", "24MB")


@pytest.mark.slow  # a history beyond the memory limit
def test_a_history_beyond_the_memory_limit_merges_in_one_transaction(tmp_path, low_memory):
    with Warehouse.open(tmp_path / "data", views=False) as wh:
        with wh.merge_batch(Load("dividends", 7, "r1", T1)) as batch:
            for start in range(0, ROWS, CHUNK):
                batch.add(_dividends(start, CHUNK))
            batch.add(_dividends(0, CHUNK, amount="999"))  # repeats: the first chunk wins
            counts = batch.commit({"watermark": "w"})
        assert counts == {"dividends": MergeCounts(ROWS, ROWS, 0)}
        total, distinct, low = wh.connection.execute(
            'SELECT count(*), count(DISTINCT "reference"), min("amount") FROM "dividends"'
        ).fetchone()
        assert (total, distinct, low) == (ROWS, ROWS, Decimal("1.5"))
        # the next night: a few pages, some rows changed, some new, against the whole table
        with wh.merge_batch(Load("dividends", 7, "r2", T1)) as batch:
            batch.add(_dividends(ROWS - 100, CHUNK, amount="2.5"))
            counts = batch.commit({"watermark": "w2"})
        assert counts == {"dividends": MergeCounts(CHUNK, CHUNK - 100, 100)}
        assert wh.count_rows("dividends") == ROWS + CHUNK - 100


def test_old_warehouses_lose_their_primary_keys_and_keep_their_rows(tmp_path):
    data = tmp_path / "data"
    with Warehouse.open(data) as wh:
        wh.merge_resource(Load("dividends", 7, "r0", T0), _dividends(0, 10), None)
        con = wh.connection
        # the table as earlier versions declared it, with a view on it
        con.execute('ALTER TABLE "dividends" RENAME TO "d_old"')
        ddl = (
            TABLES["dividends"]
            .duckdb_ddl()
            .replace("\n)", ',\n  PRIMARY KEY ("account_id", "reference")\n)')
        )
        con.execute(ddl)
        con.execute('INSERT INTO "dividends" SELECT * FROM "d_old"')
        con.execute('DROP TABLE "d_old"')
        wh.create_views()
    with Warehouse.open(data) as wh:
        keys = wh.connection.execute(
            "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchall()
        assert {k[0] for k in keys} <= set(BOOKKEEPING)  # only the pipeline's own small tables
        assert wh.count_rows("dividends") == 10
        wh.merge_resource(Load("dividends", 7, "r1", T1), _dividends(5, 10), None)
        assert wh.count_rows("dividends") == 15
        assert wh.connection.execute('SELECT count(*) FROM "dividends_monthly"').fetchone()[0]


def test_key_columns_stay_not_null(tmp_path):
    with (
        Warehouse.open(tmp_path / "data", views=False) as wh,
        pytest.raises(duckdb.ConstraintException),
    ):
        wh.connection.execute('INSERT INTO "dividends" ("account_id") VALUES (1)')


def test_a_merge_in_slices_equals_a_merge_at_once(tmp_path, monkeypatch):
    from warehouse import merge

    results = {}
    for name, rows in (("whole", 10**6), ("sliced", 7)):
        monkeypatch.setattr(merge, "SLICE_ROWS", rows)
        with Warehouse.open(tmp_path / name, views=False) as wh:
            first = wh.merge_resource(Load("dividends", 7, "r1", T1), _dividends(0, 50), None)
            second = wh.merge_resource(
                Load("dividends", 7, "r2", T1), _dividends(40, 30, amount="9"), None
            )
            cols = '"reference", "amount", "_run_id"'
            rows_now = wh.connection.execute(
                f'SELECT {cols} FROM "dividends" ORDER BY ALL'
            ).fetchall()
            results[name] = (first, second, rows_now)
    assert results["sliced"] == results["whole"]
    assert results["whole"][1] == {"dividends": MergeCounts(30, 20, 10)}


@pytest.mark.parametrize(
    ("size", "expected"),
    [("24MB", 24 * 10**6), ("256 MB", 256 * 10**6), ("1GiB", 2**30), ("64mib", 64 * 2**20),
     ("1.5GB", 15 * 10**8), ("lots", None), ("MB", None)],
)  # fmt: skip
def test_memory_sizes_are_read_as_duckdb_reads_them(size, expected):
    assert memory_bytes(size) == expected


def test_a_memory_floor_raises_a_lower_limit_for_its_block_only(tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "24MB")

    def limit(wh) -> str:
        return wh.connection.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    with Warehouse.open(tmp_path / "data") as wh:
        assert limit(wh) == "22.8 MiB"
        with wh.memory_at_least(64 * 2**20):
            assert limit(wh) == "64.0 MiB"
        assert limit(wh) == "22.8 MiB"
        with wh.memory_at_least(16 * 2**20):  # already above the floor: left alone
            assert limit(wh) == "22.8 MiB"
