"""Every Parquet dataset reads back exactly, Hive partitions and decimals, in common readers."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from tests.docs.older_duckdb import run_cli
from warehouse.parquet import PUBLISHED

TABLES = sorted(PUBLISHED)


def canonical(value: object) -> object:
    """One spelling per value whatever the reader's types: exact decimals, UTC times."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def rows(columns: dict[str, list], names: list[str]) -> list[tuple]:
    """Sorted canonical rows of a column mapping, in the order of ``names``."""
    return sorted(zip(*([canonical(v) for v in columns[n]] for n in names), strict=True), key=str)


@pytest.fixture(scope="module")
def expected(docs_dir) -> dict[str, tuple[list[str], dict[str, str], list[tuple]]]:
    """Per table, as DuckDB holds it: column names, decimal columns, canonical rows."""
    con = duckdb.connect(str(docs_dir / "data" / "warehouse.duckdb"), read_only=True)
    found = {}
    try:
        for name in TABLES:
            data = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
            decimals = {f.name: str(f.type) for f in data.schema if pa.types.is_decimal(f.type)}
            found[name] = (data.column_names, decimals, rows(data.to_pydict(), data.column_names))
    finally:
        con.close()
    return found


def dataset(docs_dir: Path, table: str) -> Path:
    return docs_dir / "data" / "parquet" / table


@pytest.mark.parametrize("table", TABLES)
def test_pyarrow_reads_the_dataset_exactly(table, docs_dir, expected):
    names, decimals, want = expected[table]
    data = ds.dataset(dataset(docs_dir, table), format="parquet", partitioning="hive").to_table()
    assert {f.name: str(f.type) for f in data.schema if f.name in decimals} == decimals
    assert want, f"the sandbox warehouse has rows in {table}"
    assert rows(data.to_pydict(), names) == want


@pytest.mark.parametrize("table", TABLES)
def test_pandas_reads_the_dataset_exactly(table, docs_dir, expected):
    names, decimals, want = expected[table]
    # as docs/bi.md reads it: without a nullable backend an integer column with gaps
    # (order_id of activity) turns into floats
    frame = pd.read_parquet(
        dataset(docs_dir, table), engine="pyarrow", dtype_backend="numpy_nullable"
    )
    for column in decimals:
        assert all(isinstance(v, Decimal) for v in frame[column].dropna()), column
    columns = {n: frame[n].astype(object).tolist() for n in names}
    assert rows(columns, names) == want


@pytest.mark.parametrize("table", TABLES)
def test_polars_reads_the_dataset_exactly(table, docs_dir, expected):
    names, decimals, want = expected[table]
    frame = pl.scan_parquet(
        dataset(docs_dir, table) / "**" / "*.parquet", hive_partitioning=True
    ).collect()
    for column in decimals:
        assert frame.schema[column] == pl.Decimal(38, 10), column
    assert rows(frame.to_dict(as_series=False), names) == want


@pytest.mark.parametrize("table", TABLES)
def test_duckdb_1x_reads_the_dataset_exactly(table, docs_dir, expected):
    names, decimals, want = expected[table]
    source = f"read_parquet('data/parquet/{table}/**/*.parquet', hive_partitioning = true)"
    described = json.loads(run_cli(["-json"], f"DESCRIBE SELECT * FROM {source};\n", docs_dir))
    types = {c["column_name"]: c["column_type"] for c in described}
    assert {c: types[c] for c in decimals} == {c: "DECIMAL(38,10)" for c in decimals}
    # text is exact in both directions: decimals and times as DuckDB spells them
    as_text = ", ".join(
        f'CASE WHEN "{n}" IS NULL THEN NULL ELSE "{n}"::VARCHAR END AS "{n}"' for n in names
    )
    read = json.loads(run_cli(["-json"], f"SELECT {as_text} FROM {source};\n", docs_dir))
    con = duckdb.connect(str(docs_dir / "data" / "warehouse.duckdb"), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        held = con.execute(f'SELECT {as_text} FROM "{table}"').fetchall()
    finally:
        con.close()
    assert sorted((tuple(r[n] for n in names) for r in read), key=str) == sorted(held, key=str)
    assert len(read) == len(want)
