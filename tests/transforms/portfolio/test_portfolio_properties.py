"""Properties of the gains engine over generated trading histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transforms.portfolio.test_gains import disposals
from transforms.portfolio.events import Event
from transforms.portfolio.holdings import holding_changes
from transforms.portfolio.matching import uk_date

QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2024, 1, 1, 8, tzinfo=UTC)
CENT = Decimal("0.01")
ZERO = Decimal(0)
# every output is rounded to 10 places once: sums may differ by half a unit per row
UNIT = Decimal("1E-10")

quantities = st.integers(1, 10**6).map(lambda n: Decimal(n) / 1000)
prices = st.integers(1, 10**6).map(lambda n: Decimal(n) / 100)
fees = st.integers(0, 500).map(lambda n: Decimal(n) / 100)
ratios = st.sampled_from([Decimal(2), Decimal(3), Decimal(4), Decimal("0.5")])
# minutes to the next event: the same day, within 30 days, or well after
gaps = st.one_of(st.integers(1, 600), st.integers(600, 60 * 24 * 40))
steps = st.tuples(
    st.sampled_from(["buy", "buy", "sell", "sell", "split"]),
    gaps,
    quantities,
    st.integers(1, 100),  # the part of the holding a sale takes, in percent
    prices,
    fees,
    ratios,
)


def _event(n: int, kind: str, at: datetime, quantity=ZERO, price=ZERO, fee=ZERO, ratio=None):
    """The n-th event; its value is the quantity at ``price``, to the penny."""
    value = (quantity * price).quantize(CENT)
    return Event(1, f"e{n}", at, "GB", "T", "GB", kind, quantity, value, fee, "GBP", ratio)


@st.composite
def histories(draw, kinds=None, close=False, min_gap=0):
    """Events of one position; sales never exceed the holding; ``close`` sells it all at the end.

    ``kinds(n, kind)`` may choose the kind of the n-th event instead of the drawn one.
    """
    at, held, events = START, Decimal(0), []
    for kind, gap, quantity, percent, price, fee, ratio in draw(st.lists(steps, max_size=25)):
        kind = kinds(len(events), kind) if kinds else kind
        at += timedelta(minutes=max(gap, min_gap))
        if kind == "sell" and held == 0:
            continue
        if kind == "sell":
            quantity = held * percent / 100
        if kind == "split":
            held *= ratio
            events.append(_event(len(events), "split", at, ratio=ratio))
            continue
        held += quantity if kind == "buy" else -quantity
        events.append(_event(len(events), kind, at, quantity, price, fee))
    if close and held:
        events.append(_event(len(events), "sell", at + timedelta(days=400), held, Decimal(7)))
    return events


def near(a: Decimal, b: Decimal, rows: int) -> bool:
    return abs(a - b) <= UNIT * (rows + 2)


def base_quantity(rows, events) -> Decimal:
    """Disposed quantity in the units before every split (each row in its own sale's units)."""
    total = Decimal(0)
    for row in rows:
        factor = Decimal(1)
        for e in events:
            if e.kind == "split" and e.at <= row.disposed_at:
                factor *= e.ratio
        total += row.quantity / factor
    return total


@QUICK
@given(histories(), prices)
def test_average_gains_and_unrealised_add_up_to_market_value_less_net_invested(events, price):
    rows = disposals("average", events)
    changes = holding_changes(events)
    quantity = changes[-1].quantity if changes else Decimal(0)
    with_fees = changes[-1].cost_basis_with_fees if changes else Decimal(0)
    market_value = quantity * price
    unrealised = market_value - with_fees
    invested = sum(e.value + e.fees for e in events if e.kind == "buy")
    returned = sum(e.value - e.fees for e in events if e.kind == "sell")
    realised = sum(r.gain for r in rows)
    assert near(realised + unrealised, market_value - (invested - returned), len(rows))
    assert all(r.matching.startswith("pool") and "short" not in r.matching for r in rows)


@QUICK
@given(histories(close=True))
def test_every_method_disposes_the_same_quantity_and_realises_the_same_total(events):
    methods = [disposals("average", events), disposals("fifo", events), disposals("uk", events)]
    average, fifo, uk = (base_quantity(rows, events) for rows in methods)
    assert near(average, fifo, 0) and near(average, uk, len(methods[2]))
    # once everything is sold, each method has charged every purchase exactly once
    totals = [sum(r.gain for r in rows) for rows in methods]
    assert near(totals[0], totals[1], 2 * len(events))
    assert near(totals[0], totals[2], 2 * len(events))
    assert not any("short" in r.matching for rows in methods for r in rows)


@QUICK
@given(histories(kinds=lambda n, kind: "buy" if n == 0 else kind.replace("buy", "sell")))
def test_fifo_equals_average_with_a_single_purchase(events):
    assert [e.kind for e in events].count("buy") == min(len(events), 1)
    average, fifo = disposals("average", events), disposals("fifo", events)
    assert len(average) == len(fifo)
    for a, f in zip(average, fifo, strict=True):
        assert (a.quantity, a.proceeds, a.disposed_at) == (f.quantity, f.proceeds, f.disposed_at)
        assert near(a.acquisition_costs, f.acquisition_costs, 1) and near(a.gain, f.gain, 1)


def _matched_by_date(events) -> bool:
    """Whether some sale's UK day has a purchase on that day or in the 30 days after it."""
    sold = {uk_date(e.at) for e in events if e.kind == "sell"}
    bought = [uk_date(e.at) for e in events if e.kind == "buy"]
    return any(timedelta(0) <= b - s <= timedelta(days=30) for s in sold for b in bought)


@QUICK
@given(histories())
def test_uk_equals_average_unless_a_purchase_falls_in_a_sales_window(events):
    uk = disposals("uk", events)
    rules = any("same day" in r.matching or "30 days" in r.matching for r in uk)
    assert rules == _matched_by_date(events)
    if rules:
        return
    by_day: dict = {}
    for row in disposals("average", events):
        day = by_day.setdefault(uk_date(row.disposed_at), [Decimal(0), Decimal(0), Decimal(0)])
        day[0] += row.proceeds
        day[1] += row.acquisition_costs
        day[2] += row.gain
    assert sorted(by_day) == [r.day for r in uk]
    for row in uk:
        proceeds, costs, gain = by_day[row.day]
        assert row.proceeds == proceeds
        assert near(row.acquisition_costs, costs, 3) and near(row.gain, gain, 3)


def test_thirty_days_are_counted_in_uk_dates():
    # 31 days apart in UTC, 30 in UK dates: the sale is in British Summer Time, the buy not
    sale_at = datetime(2024, 10, 1, 23, 30, tzinfo=UTC)
    events = [
        _event(0, "buy", START, Decimal(10), Decimal(5)),
        _event(1, "sell", sale_at, Decimal(4), Decimal(6)),
        _event(2, "buy", sale_at + timedelta(days=31), Decimal(4), Decimal(7)),
    ]
    assert (uk_date(events[2].at) - uk_date(sale_at)).days == 30
    assert [r.matching for r in disposals("uk", events)] == ["30 days 4"]


def test_a_sale_after_splits_is_matched_in_the_quantity_sold():
    # three splits make 0.75 shares of a base unit; 75.00001803475 shares, half a unit past
    # the 10th place, round up whether or not they went through base units and back
    day = timedelta(days=40)
    sold = Decimal("75.00001803475")
    events = [
        _event(0, "buy", START, Decimal(200), Decimal(5)),
        _event(1, "split", START + day, ratio=Decimal(3)),
        _event(2, "split", START + 2 * day, ratio=Decimal("0.5")),
        _event(3, "split", START + 3 * day, ratio=Decimal("0.5")),
        _event(4, "sell", START + 4 * day, sold, Decimal(6)),
    ]
    for method in ("uk", "average"):
        (row,) = disposals(method, events)
        assert (row.matching, row.quantity) == ("pool 75.0000180348", sold.quantize(UNIT)), method


@QUICK
# 32 days in UTC are at least 31 UK dates apart, whatever the clocks did in between
@given(histories(min_gap=60 * 24 * 32))
def test_uk_is_the_pool_when_events_are_more_than_30_days_apart(events):
    uk, average = disposals("uk", events), disposals("average", events)
    assert [r.matching for r in uk] == [r.matching for r in average]
    assert all(near(u.gain, a.gain, 1) for u, a in zip(uk, average, strict=True))
