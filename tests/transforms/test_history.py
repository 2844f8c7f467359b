"""Dividends and transactions: history items to rows, nulls, dedup, problems, unknown fields."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from tests.transforms import records
from transforms.catalogue import table
from transforms.dividends import normalise_dividends
from transforms.frames import frame_columns
from transforms.transactions import normalise_transactions

D = Decimal


def test_dividend_row_matches_the_catalogue():
    result = normalise_dividends([records.dividend()], account_id=42)
    frame = result.frames["dividends"]
    assert list(frame.columns) == frame_columns(table("dividends"))
    row = frame.iloc[0]
    assert row["account_id"] == 42
    assert row["reference"] == "div-0001"
    assert row["paid_on"] == pd.Timestamp("2024-03-27T07:15:00Z")
    assert row["quantity"] == D("12.3456789")
    assert row["instrument_name"] == "Example VUSAl_EQ"
    assert row["instrument_currency"] == "GBX"
    assert str(frame["paid_on"].dtype) == "datetime64[us, UTC]"
    assert str(frame["account_id"].dtype) == "Int64"
    assert frame["amount"].dtype == object
    assert result.problems == [] and result.unknown_fields == set()


def test_exponent_notation_and_trailing_zeros_stay_exact():
    items = [
        records.dividend(reference="a", amount=D("0E-10")),
        records.dividend(reference="b", amount=D("17.0000000000")),
        records.dividend(reference="c", amount=D("1.5E+3")),
    ]
    amounts = normalise_dividends(items, account_id=1).frames["dividends"]["amount"]
    assert list(amounts) == [D(0), D(17), D(1500)]
    assert all(type(a) is Decimal for a in amounts)


def test_dropped_fields_become_nulls():
    item = records.dividend()
    for field in ("amountInEuro", "instrument", "tickerCurrency", "paidOn"):
        del item[field]
    row = normalise_dividends([item], account_id=1).frames["dividends"].iloc[0]
    assert row["amount_in_euro"] is None
    assert row["instrument_name"] is None
    assert pd.isna(row["paid_on"])


def test_ticker_falls_back_to_the_instrument():
    item = records.dividend(ticker=None)
    row = normalise_dividends([item], account_id=1).frames["dividends"].iloc[0]
    assert row["ticker"] == "VUSAl_EQ"


def test_unknown_enum_loads_and_unknown_field_is_reported():
    item = records.dividend(type="SOME_FUTURE_TYPE", taxWithheld=D("0.5"))
    item["instrument"] = {**item["instrument"], "sector": "Finance"}
    result = normalise_dividends([item], account_id=1)
    assert result.frames["dividends"]["type"].tolist() == ["SOME_FUTURE_TYPE"]
    assert result.unknown_fields == {"taxWithheld", "instrument.sector"}


def test_missing_key_and_bad_values_are_problems_not_rows():
    items = [
        records.dividend(reference=None),
        records.dividend(reference="b", amount=D("0.00000000001")),
        records.dividend(reference="c", paidOn="last Tuesday"),
        "not a record",
        records.dividend(reference="ok"),
    ]
    result = normalise_dividends(items, account_id=1)
    assert result.frames["dividends"]["reference"].tolist() == ["ok"]
    assert len(result.problems) == 4
    assert "record 0" in result.problems[0] and "reference: missing" in result.problems[0]
    assert "reference=b" in result.problems[1] and "amount" in result.problems[1]
    assert "paid_on" in result.problems[2]
    assert all(len(line) < 200 for line in result.problems)


def test_first_occurrence_of_a_reference_wins():
    items = [
        records.dividend(reference="r1", amount=D("2")),
        records.dividend(reference="r1", amount=D("1")),
        records.dividend(reference="r2"),
    ]
    frame = normalise_dividends(items, account_id=1).frames["dividends"]
    assert frame["reference"].tolist() == ["r1", "r2"]
    assert frame["amount"].tolist()[0] == D("2")


def test_invalid_first_occurrence_does_not_hide_a_valid_one():
    items = [records.dividend(reference="r1", amount="bad"), records.dividend(reference="r1")]
    result = normalise_dividends(items, account_id=1)
    assert result.frames["dividends"]["reference"].tolist() == ["r1"]
    assert len(result.problems) == 1


def test_empty_input_gives_an_empty_frame_with_the_columns():
    frame = normalise_dividends([], account_id=1).frames["dividends"]
    assert frame.empty and list(frame.columns) == frame_columns(table("dividends"))


def test_transactions_negative_amounts_and_offsets():
    items = [
        records.transaction(),
        records.transaction(
            reference="txn-2",
            type="WITHDRAW",
            amount=D("-120.50"),
            dateTime="2024-02-01T01:00:00+03:00",
        ),
        records.transaction(reference="txn-3", type="INTEREST_NEW", amount=D("0.0012")),
    ]
    frame = normalise_transactions(items, account_id=9).frames["transactions"]
    assert list(frame.columns) == frame_columns(table("transactions"))
    assert frame["amount"].tolist() == [D("500"), D("-120.5"), D("0.0012")]
    assert frame["date_time"][1] == pd.Timestamp("2024-01-31T22:00:00Z")
    assert frame["type"].tolist()[2] == "INTEREST_NEW"
    assert frame["account_id"].tolist() == [9, 9, 9]
