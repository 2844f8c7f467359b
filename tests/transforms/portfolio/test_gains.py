"""Average-cost and FIFO disposals, and events read from rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest

from transforms.portfolio.events import ADJUST, Event, events_from_rows, positions
from transforms.portfolio.gains import Disposal, fifo_position
from transforms.portfolio.holdings import track_position
from transforms.portfolio.matching import uk_position

# each method's disposals of one position, by the functions the portfolio model calls
METHODS = {"average": lambda p: track_position(p)[0], "fifo": fifo_position, "uk": uk_position}


def event(kind, when, quantity=0, value=0, fees=0, *, ratio=None, **fields) -> Event:
    """An event in GBP of account 1 in instrument GB00TEST at ``when`` (ISO; naive is UTC)."""
    at = datetime.fromisoformat(when)
    values = {
        "account_id": 1,
        "event_id": f"{kind}@{when}",
        "instrument": "GB00TEST",
        "ticker": "TEST",
        "isin": "GB00TEST",
        "currency": "GBP",
    }
    values.update(fields)
    return Event(
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
        kind=kind,
        quantity=Decimal(str(quantity)),
        value=Decimal(str(value)),
        fees=Decimal(str(fees)),
        ratio=None if ratio is None else Decimal(str(ratio)),
        **values,
    )


def D(text) -> Decimal:
    return Decimal(str(text))


def disposals(method: str, events) -> list[Disposal]:
    """The disposals by ``method`` of ``events``, position by position as the model takes them."""
    return [row for position in positions(events) for row in METHODS[method](position)]


TWO_BUYS_TWO_SELLS = [
    event("buy", "2024-01-02T10:00", 10, 1000, 5, event_id="b1"),
    event("buy", "2024-02-01T10:00", 30, 3600, 7, event_id="b2"),
    event("sell", "2024-03-01T10:00", 20, 2800, 3, event_id="s1", broker_result=D("499.10")),
    event("sell", "2025-01-06T10:00", 20, 2000, 2, event_id="s2"),
]


def test_average_takes_the_pool_cost_in_proportion():
    first, second = disposals("average", TWO_BUYS_TWO_SELLS)
    # pool 40 shares, gross cost 4,600, with fees 4,612: half of it goes with 20 shares
    assert (first.method, first.disposal_id, first.quantity) == ("average", "s1", 20)
    assert first.proceeds == 2800 and first.sale_costs == 3
    assert first.acquisition_costs == 2306 and first.allowable_costs == 2309
    assert first.gain == 491
    assert first.result_before_fees == 500  # the broker's figure: 2,800 - 4,600 / 2
    assert first.broker_result == D("499.10")
    assert first.matching == "pool 20"
    assert (first.day, first.year) == (date(2024, 3, 1), "2024")
    assert first.disposed_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert (second.acquisition_costs, second.gain, second.year) == (2306, -308, "2025")
    assert second.broker_result is None


def test_fifo_takes_the_oldest_lots_first():
    first, second = disposals("fifo", TWO_BUYS_TWO_SELLS)
    # all of b1 (1,005) and a third of b2 (3,607 / 3)
    assert first.acquisition_costs == D("2207.3333333333")
    assert first.gain == D("589.6666666667")
    assert first.matching == "lot b1 10; lot b2 10"
    assert second.acquisition_costs == D("2404.6666666667")
    assert second.matching == "lot b2 20"
    assert first.result_before_fees is None and first.broker_result is None
    # over the life of the position both methods realise the same total
    total = sum(r.gain for r in disposals("average", TWO_BUYS_TWO_SELLS))
    assert first.gain + second.gain == total == 183


def test_outputs_are_exact_to_ten_places_and_add_up():
    [row] = disposals(
        "average", [event("buy", "2024-01-02", 3, 10), event("sell", "2024-01-03", 1, 5, D("0.01"))]
    )
    assert row.acquisition_costs == D("3.3333333333")
    assert row.acquisition_costs.as_tuple().exponent == -10
    assert row.allowable_costs == row.acquisition_costs + row.sale_costs
    assert row.gain == row.proceeds - row.allowable_costs == D("1.6566666667")
    assert row.result_before_fees == D("1.6666666667")


def test_sale_in_a_foreign_currency_with_an_fx_fee():
    # a US share in a GBP account: values and the FX fees already in pounds
    events = [
        event("buy", "2024-05-01T14:30", 10, "1000.00", "1.50", currency="GBP"),
        event("sell", "2024-08-01T14:30", 10, "1200.00", "1.80", broker_result=D("196.70")),
    ]
    for rows in (disposals("average", events), disposals("fifo", events)):
        [row] = rows
        assert row.proceeds == D("1200.00")
        assert row.sale_costs == D("1.80")
        assert row.acquisition_costs == D("1001.50")
        assert row.allowable_costs == D("1003.30")
        assert row.gain == D("196.70")
        assert row.currency == "GBP"
    [row] = disposals("average", events)
    assert row.result_before_fees == 200 and row.broker_result == D("196.70")


def test_selling_more_than_is_held_disposes_the_excess_without_cost():
    events = [
        event("buy", "2024-01-02", 5, 50),
        event("sell", "2024-01-03", "8.5", 100, event_id="over"),
        event("buy", "2024-01-04", 2, 30),
        event("sell", "2024-01-05", 2, 40),
    ]
    over, after = disposals("average", events)
    assert over.quantity == D("8.5") and over.acquisition_costs == 50 and over.gain == 50
    assert over.matching == "pool 5; short 3.5 without cost"
    assert after.acquisition_costs == 30  # the short left nothing behind in the pool
    over, after = disposals("fifo", events)
    assert over.matching == "lot buy@2024-01-02 5; short 3.5 without cost"
    assert (over.acquisition_costs, after.acquisition_costs) == (50, 30)


def test_a_sale_of_nothing_held_has_no_cost():
    [row] = disposals("average", [event("sell", "2024-01-03", 2, 10)])
    assert (row.acquisition_costs, row.gain, row.matching) == (0, 10, "short 2 without cost")


def test_a_split_scales_the_quantity_and_keeps_the_cost():
    events = [
        event("buy", "2024-01-02", 10, 1000, 10),
        event("split", "2024-02-01", ratio=4),
        event("sell", "2024-03-01", 20, 600),
    ]
    for rows in (disposals("average", events), disposals("fifo", events)):
        [row] = rows
        assert row.acquisition_costs == 505 and row.gain == 95
    consolidation = [
        event("buy", "2024-01-02", 100, 1000),
        event("split", "2024-02-01", ratio="0.1"),
    ]
    [row] = disposals("average", [*consolidation, event("sell", "2024-03-01", 10, 1500)])
    assert (row.acquisition_costs, row.matching) == (1000, "pool 10")


@pytest.mark.parametrize("split_first", [False, True])
def test_a_split_at_the_time_of_a_buy_applies_in_the_given_order(split_first):
    buy = event("buy", "2024-01-02T12:00", 10, 1000)
    split = event("split", "2024-01-02T12:00", ratio=4)
    sell = event("sell", "2024-01-03", 40, 2000)
    rows = events_from_rows(vars_of(e) for e in ([split, buy] if split_first else [buy, split]))
    assert [e.kind for e in rows] == (["split", "buy"] if split_first else ["buy", "split"])
    for method in ("average", "fifo"):
        [row] = disposals(method, [*rows, sell])
        if split_first:  # the split came before the shares: 10 held, 30 sold short
            assert row.matching.endswith("10; short 30 without cost")
        else:
            assert row.matching in ("pool 40", "lot buy@2024-01-02T12:00 40")
        assert row.acquisition_costs == 1000


def test_transfers_and_unknown_kinds_change_the_position_without_a_disposal():
    events = [
        event("transfer_in", "2024-01-02", 10, 500),
        event("transfer_out", "2024-01-03", 5),
        event("stock_distribution", "2024-01-04", 5),
        event("sell", "2024-01-05", 10, 400),
    ]
    assert events[2].action == ADJUST
    [average] = disposals("average", events)
    [fifo] = disposals("fifo", events)
    # 5 shares left of the transfer at 250, then 5 more without cost
    assert average.acquisition_costs == fifo.acquisition_costs == 250


def test_positions_pool_separately_by_account_and_instrument():
    events = [
        event("buy", "2024-01-02", 1, 100),
        event("buy", "2024-01-02", 1, 300, instrument="US0002", event_id="b2"),
        event("buy", "2024-01-02", 1, 700, account_id=2, event_id="b3"),
        event("sell", "2024-01-03", 1, 400, instrument="US0002", event_id="s2"),
        event("sell", "2024-01-03", 1, 400),
    ]
    rows = {(r.account_id, r.instrument): r.acquisition_costs for r in disposals("average", events)}
    assert rows == {(1, "GB00TEST"): 100, (1, "US0002"): 300}


def vars_of(e: Event) -> dict:
    """An event as the row ``events_from_rows`` reads."""
    return {name: getattr(e, name) for name in Event.__dataclass_fields__ if name != "action"}


def test_events_from_rows_reads_timestamps_numbers_and_identities():
    base = vars_of(event("buy", "2024-01-02T10:00", 1, 10))
    rows = [
        {**base, "event_id": "late", "at": pd.Timestamp("2024-01-02T11:00")},
        {**base, "event_id": "b", "account_id": 2, "at": datetime(2024, 1, 1)},
        {
            **base,
            "event_id": "offset",
            "at": datetime(2024, 1, 2, 12, tzinfo=timezone(timedelta(hours=2))),
        },
        {**base, "event_id": "nan", "fees": float("nan"), "value": 12.5, "quantity": "3"},
        {**base, "event_id": "ticker", "instrument": None, "isin": None, "ticker": "ABC"},
    ]
    events = events_from_rows(rows)
    # by account, instrument (the ticker when there is no ISIN), time; ties keep row order
    assert [e.event_id for e in events] == ["ticker", "offset", "nan", "late", "b"]
    by_id = {e.event_id: e for e in events}
    assert by_id["ticker"].instrument == "ABC"
    assert by_id["late"].at == datetime(2024, 1, 2, 11, tzinfo=UTC)
    assert by_id["offset"].at == datetime(2024, 1, 2, 10, tzinfo=UTC)
    assert all(e.at.tzinfo is UTC for e in events)
    nan = by_id["nan"]
    assert (nan.fees, nan.value, nan.quantity) == (0, D("12.5"), 3)


def test_events_need_an_aware_timestamp_and_an_identity():
    with pytest.raises(ValueError, match="naive"):
        Event(1, "x", datetime(2024, 1, 1), "I", None, None, "buy", D(1), D(1), D(0), "GBP")
    row = {**vars_of(event("buy", "2024-01-02", 1)), "instrument": None, "isin": None}
    with pytest.raises(ValueError, match="no instrument"):
        events_from_rows([{**row, "ticker": None}])
