"""to_arrow: exact conversion of normalised frames to the catalogue's Arrow schema."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from tests.transforms import records
from transforms.catalogue import TABLES, table
from transforms.dividends import normalise_dividends
from transforms.frames import empty_frame, frame_columns, to_arrow
from transforms.types import TYPES

TEN_PLACES = Decimal("123456789012345678.0123456789")


def _dividends(**overrides):
    return normalise_dividends([records.dividend(**overrides)], account_id=5).frames["dividends"]


def test_ten_decimal_places_survive_arrow_and_back():
    arrow = to_arrow(_dividends(amount=TEN_PLACES), "dividends")
    assert arrow.schema == table("dividends").arrow_schema()
    assert arrow.column("amount").to_pylist() == [TEN_PLACES]
    assert arrow.to_pandas()["amount"][0] == TEN_PLACES


def test_ten_decimal_places_survive_into_duckdb():
    arrow_table = to_arrow(_dividends(amount=TEN_PLACES), "dividends")  # noqa: F841 - DuckDB scans it by name
    query = "select amount, amount::varchar, epoch(paid_on) from arrow_table"
    [row] = duckdb.connect().sql(query).fetchall()
    assert row[0] == TEN_PLACES
    assert row[1] == "123456789012345678.0123456789"
    assert row[2] == pd.Timestamp("2024-03-27T07:15:00Z").timestamp()


def test_load_metadata_is_taken_when_present_else_null():
    frame = _dividends()
    assert to_arrow(frame, "dividends").column("_run_id").null_count == 1
    frame = frame.assign(_loaded_at=pd.Timestamp("2024-06-01T02:30Z"), _run_id="run-1")
    arrow = to_arrow(frame, table("dividends"))
    assert arrow.column("_run_id").to_pylist() == ["run-1"]
    assert arrow.column("_loaded_at").type == pa.timestamp("us", tz="UTC")


def test_unknown_or_missing_columns_are_refused():
    frame = _dividends()
    with pytest.raises(ValueError, match="not in the catalogue"):
        to_arrow(frame.assign(extra=1), "dividends")
    with pytest.raises(ValueError, match="lacks column"):
        to_arrow(frame.drop(columns=["amount"]), "dividends")


def test_decimal_that_would_be_rounded_is_refused():
    frame = _dividends()
    frame.loc[0, "amount"] = Decimal("1.00000000001")
    with pytest.raises(pa.ArrowInvalid):
        to_arrow(frame, "dividends")


def test_dates_as_objects_or_datetimes_convert():
    frame = empty_frame("positions")
    assert to_arrow(frame, "positions").num_rows == 0
    as_objects = pd.DataFrame({"snapshot_date": [date(2024, 1, 2)]})
    as_datetimes = pd.DataFrame({"snapshot_date": pd.to_datetime(["2024-01-02"])})
    for days in (as_objects, as_datetimes):
        frame = empty_frame("account_summaries").drop(columns="snapshot_date")
        frame = pd.concat([frame, days], ignore_index=True)
        arrow = to_arrow(frame, "account_summaries")
        assert arrow.column("snapshot_date").to_pylist() == [date(2024, 1, 2)]


@pytest.mark.parametrize("name", [n for n in TABLES])
def test_empty_frames_have_declared_columns_and_dtypes(name):
    frame = empty_frame(name)
    assert list(frame.columns) == frame_columns(table(name))
    for column in frame.columns:
        assert str(frame[column].dtype) == TYPES[table(name).column(column).type].frame_dtype
    assert to_arrow(frame, name).schema == table(name).arrow_schema()
