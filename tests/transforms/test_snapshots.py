"""Account summaries and positions: snapshots with account id, time and date."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest

from tests.transforms import records
from transforms.account_summary import account_identity, normalise_account_summary
from transforms.catalogue import table
from transforms.frames import frame_columns, to_arrow
from transforms.positions import normalise_positions

D = Decimal
# late evening west of UTC: the UTC date is the next day
SNAPSHOT = datetime(2024, 5, 1, 22, 30, tzinfo=timezone(timedelta(hours=-3)))


def test_account_identity():
    assert account_identity(records.account_summary()) == (123456, "GBP")
    for bad in ({"currency": "GBP"}, {"id": 1}, {"id": "x", "currency": "GBP"}, None):
        with pytest.raises(ValueError):
            account_identity(bad)


def test_account_summary_flattens_cash_and_investments():
    result = normalise_account_summary(records.account_summary(), snapshot_at=SNAPSHOT)
    frame = result.frames["account_summaries"]
    assert list(frame.columns) == frame_columns(table("account_summaries"))
    row = frame.iloc[0]
    assert row["account_id"] == 123456
    assert row["snapshot_at"] == pd.Timestamp("2024-05-02T01:30Z")
    assert row["snapshot_date"] == date(2024, 5, 2)
    assert row["cash_available_to_trade"] == D("250.5")
    assert row["cash_reserved_for_orders"] == 0
    assert row["investments_realized_profit_loss"] == D("-12.5")
    assert to_arrow(frame, "account_summaries").column("snapshot_date").to_pylist() == [
        date(2024, 5, 2)
    ]


def test_account_summary_with_new_and_missing_fields():
    record = records.account_summary(cash={"availableToTrade": D("1")}, margin=D("0"))
    result = normalise_account_summary(record, snapshot_at="2024-05-01T00:00:00Z")
    row = result.frames["account_summaries"].iloc[0]
    assert row["cash_in_pies"] is None
    assert result.unknown_fields == {"margin"}


def test_account_summary_without_id_is_a_problem():
    result = normalise_account_summary({"currency": "GBP"}, snapshot_at=SNAPSHOT)
    assert result.frames["account_summaries"].empty
    assert "account_id: missing" in result.problems[0]


def test_gbx_prices_stay_and_major_prices_are_in_pounds():
    result = normalise_positions([records.position()], account_id=5, snapshot_at=SNAPSHOT)
    frame = result.frames["positions"]
    assert list(frame.columns) == frame_columns(table("positions"))
    row = frame.iloc[0]
    assert (row["ticker"], row["instrument_currency"]) == ("VUSAl_EQ", "GBX")
    assert row["average_price_paid"] == D("7234.5")
    assert row["price_currency_major"] == "GBP"
    assert row["average_price_paid_major"] == D("72.345")
    assert row["current_price_major"] == D("73.0125")
    assert row["wallet_impact_current_value"] == D("766.63")
    assert row["wallet_impact_fx_impact"] is None
    assert row["created_at"] == pd.Timestamp("2023-11-20T08:00Z")
    assert row["snapshot_date"] == date(2024, 5, 2)
    assert to_arrow(frame, "positions").num_rows == 1


def test_other_currencies_copy_price_and_currency():
    items = [
        records.position(instrument=records.listed("AAPL_US_EQ", "USD"), currentPrice=D("189.1")),
        records.position(instrument=records.listed("VODl_EQ", "GBp"), currentPrice=D("70.01")),
        records.position(instrument={"ticker": "ODD_EQ"}, currentPrice=D("1.5")),
    ]
    frame = normalise_positions(items, account_id=5, snapshot_at=SNAPSHOT).frames["positions"]
    assert frame["price_currency_major"].tolist() == ["USD", "GBP", None]
    assert frame["current_price_major"].tolist() == [D("189.1"), D("0.7001"), D("1.5")]


def test_major_price_that_would_need_rounding_is_a_problem():
    item = records.position(currentPrice=D("0.123456789"))
    result = normalise_positions([item], account_id=5, snapshot_at=SNAPSHOT)
    assert result.frames["positions"].empty
    assert "current_price_major" in result.problems[0]


def test_positions_without_ticker_or_repeated_are_handled():
    items = [
        records.position(),
        records.position(instrument={"name": "nameless"}),
        records.position(quantity=D("99")),
    ]
    result = normalise_positions(items, account_id=5, snapshot_at=SNAPSHOT)
    assert result.frames["positions"]["quantity"].tolist() == [D("10.5")]
    assert "ticker: missing" in result.problems[0]


def test_nested_object_of_the_wrong_shape_is_a_problem():
    result = normalise_positions(
        [records.position(walletImpact="GBP")], account_id=5, snapshot_at=SNAPSHOT
    )
    assert result.frames["positions"].empty
    assert "wallet_impact_currency" in result.problems[0] or "walletImpact" in result.problems[0]
