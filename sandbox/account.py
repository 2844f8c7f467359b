"""One account's book: its instruments, positions, summary, histories, clock and truth."""

from __future__ import annotations

import math
import threading
from decimal import ROUND_HALF_UP, Decimal

from sandbox.config import AccountSpec
from sandbox.dividends import DividendSeries
from sandbox.exchanges import exchange_truth
from sandbox.history import Basis
from sandbox.instruments import KNOWN, Instrument, fx, instrument, major, price_on
from sandbox.ledger import CENT, Holding
from sandbox.orders import ZERO, OrderSeries
from sandbox.pending import pending_orders
from sandbox.timeline import DAY_MS
from sandbox.transactions import TransactionSeries
from sandbox.wire import decimal_between, encode, iso, quantize, rng


class AccountBook:
    """Everything one account serves, derived lazily from (seed, spec, clock)."""

    def __init__(self, seed: int, spec: AccountSpec, now_ms: int, extra_fields: bool) -> None:
        self.seed = seed
        self.spec = spec
        self.extra_fields = extra_fields
        self.now_ms = now_ms
        self.days_advanced = 0
        self._lock = threading.Lock()
        self._instruments: bytes | None = None
        size = spec.size
        self.universe = self._universe()
        start_ms = now_ms - int(size.years * 365 * DAY_MS)
        self.basis = Basis(seed, spec, self.universe, extra_fields)
        self.dividends = DividendSeries(self.basis, size.dividends, start_ms, now_ms)
        self.kept = self._kept()
        self.orders = OrderSeries(self.basis, size.orders, start_ms, now_ms, self.kept)
        self.ledger = self.orders.ledger
        self.transactions = TransactionSeries(self.basis, size.transactions, start_ms, now_ms)

    def _universe(self) -> tuple[Instrument, ...]:
        """The instruments this account has ever traded: a few known ones, then random picks."""
        n = self.spec.size.instruments
        known = [instrument(self.seed, i) for i in range(min(len(KNOWN), n))]
        r = rng(self.seed, self.spec.account_id, "universe")
        wanted = max(2 * self.spec.size.positions, 24) - len(known)
        picks = r.sample(range(len(known), n), wanted)
        return tuple(known + [instrument(self.seed, j) for j in picks])

    def _kept(self) -> tuple[int, ...]:
        """Universe slots never retired: a US share, a London ETF priced in GBX, a sample.

        The orders leave about ``size.positions`` open positions: the others are sold out.
        """
        r = rng(self.seed, self.spec.account_id, "held")
        rest = [k for k in range(len(self.universe)) if k not in (0, 2)]
        wanted = max(0, self.spec.size.positions - 2)
        return (0, 2, *r.sample(rest, wanted)) if self.spec.size.positions > 1 else (0,)

    @property
    def day(self) -> int:
        """The simulated day number (days since 1970-01-01)."""
        return self.now_ms // DAY_MS

    def horizon_ms(self) -> int | None:
        """The oldest instant the JSON history endpoints serve now; None: all of it."""
        days = self.spec.history_days
        return None if days is None else self.now_ms - days * DAY_MS

    def advance(self, days: int) -> None:
        """Move the clock ``days`` ahead, adding the activity of those days to every history."""
        if days < 1:
            raise ValueError("days must be at least 1")
        with self._lock:
            before = self.days_advanced
            self.now_ms += days * DAY_MS
            self.days_advanced += days
            for series in (self.dividends, self.orders, self.transactions):
                rate = series.base_count / (self.spec.size.years * 365)
                added = math.floor(rate * self.days_advanced) - math.floor(rate * before)
                series.extend(max(1, added), self.now_ms)

    def instruments_body(self) -> bytes:
        """The instruments response, rendered once (it does not change with the clock)."""
        with self._lock:
            if self._instruments is None:
                n = self.spec.size.instruments
                self._instruments = encode([instrument(self.seed, i).tradable() for i in range(n)])
            return self._instruments

    def pending_orders(self) -> list[dict]:
        """Orders open at the current simulated time."""
        return pending_orders(self.basis, self.now_ms)

    def positions(self) -> list[dict]:
        """Open positions now: the ledger's holdings after the newest order."""
        return [self._position(slot, h) for slot, h in self.ledger.holdings().items()]

    def _position(self, slot: int, held: Holding) -> dict:
        ins = self.universe[slot]
        r = rng(self.seed, self.spec.account_id, "position", ins.index)
        acct = self.spec.currency
        quantity = held.quantity
        price = price_on(ins.price, ins.index, self.day)
        rate_now = fx(major(ins.currency), acct, self.day)
        pence = Decimal(100) if ins.currency == "GBX" else Decimal(1)
        value = quantize(quantity * price * rate_now / pence, 2)
        cost = held.cost.quantize(CENT, rounding=ROUND_HALF_UP)  # as the broker rounds
        in_pies = ZERO if r.random() < 0.7 else quantize(quantity / 4, 10)
        fx_impact = None
        if major(ins.currency) != acct:
            rate_paid = held.cost * pence / held.cost_in_currency  # the buys' average rate
            fx_impact = quantize(quantity * price * (rate_now - rate_paid) / pence, 2)
        item = {
            "instrument": ins.ref(),
            "createdAt": iso(held.opened_ms, 180 if r.random() < 0.5 else 0, r.random() < 0.5),
            "quantity": quantity,
            "quantityAvailableForTrading": quantity - in_pies,
            "quantityInPies": in_pies,
            "currentPrice": price,
            "averagePricePaid": quantize(held.cost_in_currency / quantity, 4),
            "walletImpact": {
                "currency": acct,
                "totalCost": cost,
                "currentValue": value,
                "unrealizedProfitLoss": value - cost,
                "fxImpact": fx_impact,
            },
        }
        if self.extra_fields:
            item["pieIds"] = []
        return item

    def summary(self) -> dict:
        """The account summary, consistent with the positions at the current day."""
        positions = self.positions()
        value = sum((p["walletImpact"]["currentValue"] for p in positions), Decimal(0))
        cost = sum((p["walletImpact"]["totalCost"] for p in positions), Decimal(0))
        r = rng(self.seed, self.spec.account_id, "cash", self.day)
        available = decimal_between(r, "50", "4000", 2)
        in_pies = decimal_between(r, "0", "80", 2)
        reserved = ZERO if r.random() < 0.8 else decimal_between(r, "1", "300", 2)
        return {
            "id": self.spec.account_id,
            "currency": self.spec.currency,
            "totalValue": quantize(available + in_pies + reserved + value, 2),
            "cash": {
                "availableToTrade": available,
                "reservedForOrders": reserved,
                "inPies": in_pies,
            },
            "investments": {
                "currentValue": value,
                "totalCost": cost,
                "realizedProfitLoss": self.ledger.realised(),
                "unrealizedProfitLoss": value - cost,
            },
        }

    def truth(self) -> dict:
        """Exact figures per resource, from the same generator that serves the API."""
        positions = self.positions()
        pending = self.pending_orders()
        return {
            "dividends": self.dividends.truth(),
            "orders": self.orders.truth(),
            "transactions": self.transactions.truth(),
            "positions": {
                "count": len(positions),
                "quantity": sum((p["quantity"] for p in positions), Decimal(0)),
                "wallet_current_value": sum(
                    (p["walletImpact"]["currentValue"] for p in positions), Decimal(0)
                ),
            },
            "pending_orders": {
                "count": len(pending),
                "quantity": sum((o["quantity"] for o in pending), Decimal(0)),
            },
            "instruments": {"count": self.spec.size.instruments},
            "exchanges": exchange_truth(self.now_ms),
        }
