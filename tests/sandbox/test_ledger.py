"""The orders, fills, positions and CSV results make one coherent ledger (average cost).

Every expectation is recomputed here from the served fills alone: a fill's gross value is
``netValue -/+ charges``, a position's cost the sum of its buys' gross values reduced in
proportion by each sale, and a sale's result ``gross - quantity * cost / held``, rounded
half-up to the cent.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.account import AccountBook
from sandbox.config import DEFAULT_NOW, AccountSpec, SandboxSize
from sandbox.csvreport import report_rows
from sandbox.orders import OrderSeries
from sandbox.wire import encode, parse_iso, to_ms

NOW = to_ms(DEFAULT_NOW)
SIZE = SandboxSize(instruments=200, positions=10, dividends=5, orders=3000, transactions=5)
CENT = Decimal("0.01")


def make_book(seed: int = 212, size: SandboxSize = SIZE, currency: str = "EUR") -> AccountBook:
    spec = AccountSpec(21200101, currency, "key", "secret", size=size)
    return AccountBook(seed, spec, NOW, False)


def history(book: AccountBook) -> list[dict]:
    """Every order, oldest first."""
    return [book.orders.item(i) for i in range(book.orders.count)]


def gross(fill: dict) -> Decimal:
    """A fill's gross value from its net value and charges."""
    impact = fill["walletImpact"]
    charges = sum((-t["quantity"] for t in impact["taxes"]), Decimal(0))
    return impact["netValue"] + (charges if fill["quantity"] < 0 else -charges)


class Replay:
    """Holdings rebuilt from the served orders, checking each one against the past."""

    def __init__(self, items: list[dict]) -> None:
        self.held: dict[str, Decimal] = defaultdict(Decimal)
        self.cost: dict[str, Decimal] = defaultdict(Decimal)
        self.paid: dict[str, Decimal] = defaultdict(Decimal)  # instrument currency
        self.results: list[tuple[Decimal, Decimal]] = []  # (served, recomputed)
        self.realised = Decimal(0)
        with localcontext(Context(prec=50)):
            for item in items:
                self._order(item["order"])
                if item["fill"] is not None:
                    self._fill(item["order"]["ticker"], item["fill"])

    def _order(self, order: dict) -> None:
        if order["side"] == "SELL":
            held = self.held[order["ticker"]]
            assert held > 0, f"order {order['id']} sells {order['ticker']}, which is not held"
            if order["quantity"] is not None:
                assert -order["quantity"] <= held, f"order {order['id']} sells more than held"

    def _fill(self, ticker: str, fill: dict) -> None:
        quantity, value = fill["quantity"], gross(fill)
        served = fill["walletImpact"]["realisedProfitLoss"]
        if quantity > 0:
            assert served == 0 and str(served) == "0E-10"
            self.held[ticker] += quantity
            self.cost[ticker] += value
            self.paid[ticker] += quantity * fill["price"]
            return
        sold, held = -quantity, self.held[ticker]
        assert sold <= held, f"fill {fill['id']} sells {sold} of {held} {ticker}"
        share = self.cost[ticker] if sold == held else sold * self.cost[ticker] / held
        paid = self.paid[ticker] if sold == held else sold * self.paid[ticker] / held
        expected = (value - share).quantize(CENT, rounding=ROUND_HALF_UP)
        self.results.append((served, expected))
        self.realised += served
        self.held[ticker] -= sold
        self.cost[ticker] -= share
        self.paid[ticker] -= paid

    def open(self) -> dict[str, Decimal]:
        """The non-zero holdings."""
        return {ticker: q for ticker, q in self.held.items() if q}


@pytest.fixture(scope="module")
def book() -> AccountBook:
    return make_book()


@pytest.fixture(scope="module")
def items(book: AccountBook) -> list[dict]:
    return history(book)


def test_no_order_sells_more_than_is_held(book: AccountBook, items: list[dict]) -> None:
    replay = Replay(items)
    assert len(replay.results) > 300
    # the walk did cut sells to the holding and turn sells of nothing into buys
    drafts = [book.orders.draft(i) for i in range(book.orders.count)]
    outcomes = [book.ledger.outcome(i) for i in range(book.orders.count)]
    assert any(d.sell and not o.sell for d, o in zip(drafts, outcomes, strict=True))
    assert any(o.sell and o.quantity is not None for o in outcomes)


def test_sell_results_are_the_average_cost_formula(items: list[dict]) -> None:
    replay = Replay(items)
    wrong = [(served, expected) for served, expected in replay.results if served != expected]
    assert not wrong
    assert any(served < 0 for served, _ in replay.results)
    assert any(served > 0 for served, _ in replay.results)


def test_positions_are_the_sum_of_the_fills(book: AccountBook, items: list[dict]) -> None:
    replay = Replay(items)
    positions = {p["instrument"]["ticker"]: p for p in book.positions()}
    assert {t: p["quantity"] for t, p in positions.items()} == replay.open()
    for ticker, p in positions.items():
        impact = p["walletImpact"]
        cost = replay.cost[ticker].quantize(CENT, rounding=ROUND_HALF_UP)
        assert impact["totalCost"] == cost
        average = (replay.paid[ticker] / p["quantity"]).quantize(Decimal("0.0001"))
        assert p["averagePricePaid"] == average
        assert impact["unrealizedProfitLoss"] == impact["currentValue"] - impact["totalCost"]
        assert p["quantityAvailableForTrading"] + p["quantityInPies"] == p["quantity"]
        assert 0 <= p["quantityInPies"] <= p["quantity"]
    # retired instruments were sold out: traded, no longer held
    traded = {item["order"]["ticker"] for item in items if item["fill"]}
    assert len(traded - set(positions)) >= 5
    assert abs(len(positions) - SIZE.positions) <= 2


def test_summary_follows_the_ledger(book: AccountBook, items: list[dict]) -> None:
    summary = book.summary()["investments"]
    positions = book.positions()
    assert summary["realizedProfitLoss"] == Replay(items).realised
    assert summary["totalCost"] == sum(p["walletImpact"]["totalCost"] for p in positions)


def test_value_orders_are_worth_their_value(items: list[dict]) -> None:
    value_fills = [i for i in items if i["order"]["strategy"] == "VALUE" and i["fill"]]
    assert value_fills
    for item in value_fills:
        assert item["order"]["filledValue"] == item["order"]["value"] == gross(item["fill"])


def test_csv_result_is_the_fills_result(book: AccountBook, items: list[dict]) -> None:
    rows = report_rows(0, NOW, {"includeOrders": True}, book)
    csv = {row["ID"]: row.get("Result") for row in rows}
    served = {
        f"EOF{i['order']['id']}": (
            str(i["fill"]["walletImpact"]["realisedProfitLoss"])
            if i["order"]["side"] == "SELL"
            else None
        )
        for i in items
        if i["fill"]
    }
    assert csv == served


def test_fills_keep_the_order_of_their_orders(items: list[dict]) -> None:
    """Sorting fills by time gives the walk's order; no position has two fills in a second.

    Most times are written to the second, so the order holds to the second.
    """
    filled = [i for i in items if i["fill"]]
    seconds = [parse_iso(i["fill"]["filledAt"]) // 1000 for i in filled]
    assert seconds == sorted(seconds)
    per_position = [(i["order"]["ticker"], s) for i, s in zip(filled, seconds, strict=True)]
    assert len(set(per_position)) == len(per_position)
    created = [(i["order"]["ticker"], parse_iso(i["order"]["createdAt"]) // 1000) for i in items]
    assert len(set(created)) == len(created)


def test_same_seed_same_ledger_other_seed_other_ledger(items: list[dict]) -> None:
    again, other = make_book(), make_book(seed=7)
    assert encode(history(again)) == encode(items)
    assert encode(again.positions()) == encode(make_book().positions())
    assert encode(other.positions()) != encode(again.positions())


def test_advancing_extends_the_walk_once(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[int] = []
    original = OrderSeries.draft

    def counting(self, i, slot=None, ms=None):
        if ms is not None and slot is None:
            walked.append(i)
        return original(self, i, slot, ms)

    monkeypatch.setattr(OrderSeries, "draft", counting)
    stepwise, late = make_book(), make_book()
    stepwise.positions()
    assert stepwise.ledger.walked == stepwise.orders.count == SIZE.orders
    stepwise.advance(40)
    middle = stepwise.positions()
    stepwise.advance(200)
    stepwise.summary()
    assert walked == list(range(stepwise.orders.count))  # each order walked once
    late.advance(40)
    assert encode(late.positions()) == encode(middle)
    late.advance(200)
    assert encode(late.positions()) == encode(stepwise.positions())
    assert late.summary() == stepwise.summary()
    assert encode(history(late)) == encode(history(stepwise))
    assert stepwise.orders.count > SIZE.orders + 100
    Replay(history(stepwise))


def test_threads_see_the_ledger_a_single_walk_makes() -> None:
    alone, shared = make_book(), make_book()
    indices = list(range(0, SIZE.orders, 7))
    expected = [encode(alone.orders.item(i)) for i in reversed(indices)]
    results: dict[int, list[bytes]] = {}

    def read(k: int) -> None:
        if k % 2:
            shared.positions()
        results[k] = [encode(shared.orders.item(i)) for i in reversed(indices)]

    threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())
    assert encode(shared.positions()) == encode(alone.positions())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    orders=st.integers(1, 400),
    positions=st.integers(1, 15),
    currency=st.sampled_from(["EUR", "GBP", "USD"]),
)
def test_any_account_is_coherent(seed: int, orders: int, positions: int, currency: str) -> None:
    size = SandboxSize(
        instruments=100, positions=positions, dividends=0, orders=orders, transactions=0
    )
    book = make_book(seed, size, currency)
    items = history(book)
    replay = Replay(items)
    assert all(served == expected for served, expected in replay.results)
    assert {p["instrument"]["ticker"]: p["quantity"] for p in book.positions()} == replay.open()
