"""Holding changes by day, and the portfolio's frames as the warehouse takes them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from tests.transforms.portfolio.test_gains import D, event
from transforms.catalogue import table
from transforms.frames import empty_frame, frame_columns, to_arrow
from transforms.portfolio.gains import Disposal
from transforms.portfolio.holdings import HoldingChange, holding_changes
from transforms.portfolio.model import derive_portfolio


def test_one_row_per_day_that_changed_the_holding():
    events = [
        event("buy", "2024-01-02T09:00", 10, 1000, 5),
        event("buy", "2024-01-02T15:00", 10, 1400, 7),
        event("sell", "2024-01-03T10:00", 5, 600, 1),
        event("split", "2024-01-05T10:00", ratio=3),
        event("sell", "2024-01-08T10:00", 45, 6000, 3),
        event("sell", "2024-01-09T10:00", 1, 100),  # nothing held: the holding stays empty
    ]
    rows = holding_changes(events)
    assert [(r.day, r.quantity, r.cost_basis, r.cost_basis_with_fees) for r in rows] == [
        (date(2024, 1, 2), 20, 2400, 2412),
        (date(2024, 1, 3), 15, 1800, 1809),  # a quarter of both costs went with the sale
        (date(2024, 1, 5), 45, 1800, 1809),
        (date(2024, 1, 8), 0, 0, 0),  # the end of the position is a row
    ]
    assert rows[0] == HoldingChange(
        1, "GB00TEST", date(2024, 1, 2), "TEST", "GB00TEST", D(20), D(2400), D(2412), "GBP"
    )


def test_days_are_utc_days_and_a_day_that_ends_unchanged_has_no_row():
    events = [
        event("buy", "2024-07-01T23:30", 3, 30),  # already 2 July in London, still 1 July here
        event("buy", "2024-07-02T08:00", 1, 10),
        event("sell", "2024-07-02T09:00", 1, 12),  # takes back the day's purchase at 10
        event("buy", "2024-07-03T08:00", 1, 20),
        event("sell", "2024-07-03T09:00", 1, 25),  # same quantity, but the cost moved
    ]
    rows = holding_changes(events)
    assert [(r.day, r.quantity, r.cost_basis) for r in rows] == [
        (date(2024, 7, 1), 3, 30),
        (date(2024, 7, 3), 3, D("37.5")),
    ]


def test_holdings_take_the_ticker_of_the_days_last_event():
    events = [event("buy", "2024-01-02", 1, 10), event("buy", "2024-01-03", 1, 10, ticker="NEW")]
    assert [r.ticker for r in holding_changes(events)] == ["TEST", "NEW"]


def test_the_row_types_follow_the_catalogue():
    assert [*Disposal._fields, "wrapper"] == frame_columns(table("disposals"))
    assert list(HoldingChange._fields) == frame_columns(table("holding_changes"))


def test_derive_portfolio_types_its_frames_as_the_warehouse_takes_them():
    events = [
        event("buy", "2024-01-02", 10, 1000, 5),
        event("sell", "2024-02-01", 4, 480, 1, broker_result=D("79.50")),
        event("buy", "2024-02-03", 2, 300),
    ]
    frames = derive_portfolio(reversed(events))  # any order: events are put in time order
    disposals, changes = frames["disposals"], frames["holding_changes"]
    for name, frame in frames.items():
        assert list(frame.columns) == frame_columns(table(name))
        assert frame.dtypes.to_dict() == empty_frame(name).dtypes.to_dict()
        assert to_arrow(frame, name).schema == table(name).arrow_schema()
    assert list(disposals["method"]) == ["average", "fifo", "uk"]
    assert disposals["disposed_at"].dt.tz is not None
    uk = disposals[disposals["method"] == "uk"].iloc[0]
    assert uk["matching"] == "30 days 2; pool 2"
    assert uk["year"] == "2023/24" and isinstance(uk["gain"], Decimal)
    assert list(changes["day"]) == [date(2024, 1, 2), date(2024, 2, 1), date(2024, 2, 3)]
    assert not disposals.duplicated(list(table("disposals").key)).any()
    assert not changes.duplicated(list(table("holding_changes").key)).any()


def test_derive_portfolio_of_nothing_gives_empty_declared_frames():
    frames = derive_portfolio([])
    assert set(frames) == {"disposals", "holding_changes"}
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, empty_frame(name))
