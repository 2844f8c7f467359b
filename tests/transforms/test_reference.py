"""Instruments and exchanges: the current reference lists."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from tests.transforms import records
from transforms.catalogue import table
from transforms.exchanges import normalise_exchanges
from transforms.frames import frame_columns, to_arrow
from transforms.instruments import normalise_instruments

SEEN = "2024-06-01T02:30:00+01:00"


def test_instruments_are_listed_and_seen_now():
    result = normalise_instruments([records.instrument()], seen_at=SEEN)
    frame = result.frames["instruments"]
    assert list(frame.columns) == frame_columns(table("instruments"))
    row = frame.iloc[0]
    assert row["first_seen_at"] == row["last_seen_at"] == pd.Timestamp("2024-06-01T01:30Z")
    assert row["is_listed"] is True or row["is_listed"] == True  # noqa: E712 - pandas boolean
    assert row["short_name"] == "VUSA"
    assert row["currency_code"] == "GBX"
    assert row["working_schedule_id"] == 71
    assert row["max_open_quantity"] == Decimal(150000)
    assert row["added_on"] == pd.Timestamp("2019-03-04T07:12:33Z")
    assert str(frame["extended_hours"].dtype) == "boolean"
    assert to_arrow(frame, "instruments").num_rows == 1


def test_instrument_irregular_tickers_new_types_and_fields():
    items = [
        records.instrument(ticker="BRK.B/US_EQ?", type="SOMETHING_NEW", sector="Tech"),
        records.instrument(ticker=None),
        records.instrument(ticker="X_EQ", maxOpenQuantity=None, extendedHours=None),
    ]
    result = normalise_instruments(items, seen_at=SEEN)
    frame = result.frames["instruments"]
    assert frame["ticker"].tolist() == ["BRK.B/US_EQ?", "X_EQ"]
    assert frame["type"].tolist()[0] == "SOMETHING_NEW"
    assert frame["max_open_quantity"].tolist()[1] is None
    assert pd.isna(frame["extended_hours"][1])
    assert result.unknown_fields == {"sector"}
    assert len(result.problems) == 1


def test_exchanges_and_their_schedule_events():
    result = normalise_exchanges([records.exchange()])
    exchanges, events = result.frames["exchanges"], result.frames["working_schedule_events"]
    assert list(events.columns) == frame_columns(table("working_schedule_events"))
    assert exchanges[["exchange_id", "name"]].values.tolist() == [[3, "Example Exchange"]]
    assert events["exchange_id"].tolist() == [3, 3]
    assert events["working_schedule_id"].tolist() == [71, 71]
    assert events["event_type"].tolist() == ["OPEN", "CLOSE"]
    assert events["event_at"].tolist() == [
        pd.Timestamp("2024-05-01T07:00Z"),
        pd.Timestamp("2024-05-01T16:30Z"),
    ]
    assert to_arrow(events, "working_schedule_events").num_rows == 2
    assert result.problems == [] and result.unknown_fields == set()


def test_exchange_irregularities():
    schedule = {
        "id": 8,
        "timezone": "Europe/London",
        "timeEvents": [
            {"date": "2024-05-01T08:00:00Z", "type": "OVERNIGHT_CLOSE", "note": "x"},
            {"date": "2024-05-01T08:00:00Z", "type": "OVERNIGHT_CLOSE"},
            {"date": None, "type": "OPEN"},
        ],
    }
    items = [
        records.exchange(id=1, workingSchedules=[schedule, "bad"]),
        records.exchange(id=2, workingSchedules=None),
        records.exchange(id=None),
        records.exchange(id=4, workingSchedules={"id": 1}),
    ]
    result = normalise_exchanges(items)
    assert result.frames["exchanges"]["exchange_id"].tolist() == [1, 2, 4]
    events = result.frames["working_schedule_events"]
    assert events["event_type"].tolist() == ["OVERNIGHT_CLOSE"]
    assert result.unknown_fields == {
        "workingSchedules.timezone",
        "workingSchedules.timeEvents.note",
    }
    assert len(result.problems) == 4
