"""One account's book: its instruments, positions, summary, histories, clock and truth."""

from __future__ import annotations

import math
import threading
from decimal import Decimal

from sandbox.config import AccountSpec
from sandbox.dividends import DividendSeries
from sandbox.exchanges import exchange_truth
from sandbox.instruments import KNOWN, Instrument, fx, instrument, major, price_on
from sandbox.orders import ZERO, OrderSeries
from sandbox.pending import pending_orders
from sandbox.timeline import DAY_MS
from sandbox.transactions import TransactionSeries
from sandbox.wire import decimal_between, encode, iso, quantize, rng, shares_for


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
        args = (seed, spec, self.universe)
        self.dividends = DividendSeries(*args, size.dividends, start_ms, now_ms, extra_fields)
        self.orders = OrderSeries(*args, size.orders, start_ms, now_ms, extra_fields)
        self.transactions = TransactionSeries(
            *args, size.transactions, start_ms, now_ms, extra_fields
        )
        self.held = self._held()

    def _universe(self) -> tuple[Instrument, ...]:
        """The instruments this account has ever traded: a few known ones, then random picks."""
        n = self.spec.size.instruments
        known = [instrument(self.seed, i) for i in range(min(len(KNOWN), n))]
        r = rng(self.seed, self.spec.account_id, "universe")
        wanted = max(2 * self.spec.size.positions, 24) - len(known)
        picks = r.sample(range(len(known), n), wanted)
        return tuple(known + [instrument(self.seed, j) for j in picks])

    def _held(self) -> tuple[Instrument, ...]:
        """Open positions: always a US share and a London ETF priced in GBX, then a sample."""
        r = rng(self.seed, self.spec.account_id, "held")
        first = [self.universe[0], self.universe[2]]
        rest = [u for u in self.universe if u not in first]
        return tuple(first + r.sample(rest, self.spec.size.positions - 2))

    @property
    def day(self) -> int:
        """The simulated day number (days since 1970-01-01)."""
        return self.now_ms // DAY_MS

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
        return pending_orders(
            self.seed, self.spec.account_id, self.spec.currency, self.universe, self.now_ms
        )

    def positions(self) -> list[dict]:
        """Open positions at the current simulated day."""
        return [self._position(k, ins) for k, ins in enumerate(self.held)]

    def _position(self, k: int, ins: Instrument) -> dict:
        r = rng(self.seed, self.spec.account_id, "position", ins.index)
        acct = self.spec.currency
        opened_ms = self.now_ms - r.randrange(30, 1500) * DAY_MS + r.randrange(DAY_MS)
        average = quantize(ins.price * decimal_between(r, "0.6", "1.1", 4), 4)
        price = price_on(ins.price, ins.index, self.day)
        rate_now = fx(major(ins.currency), acct, self.day)
        rate_then = fx(major(ins.currency), acct, opened_ms // DAY_MS)
        pence = Decimal(100) if ins.currency == "GBX" else Decimal(1)
        quantity = shares_for(r, decimal_between(r, "200", "7000", 2), average * rate_then / pence)
        if k % 4 == 0:
            quantity += Decimal("0.25") * self.days_advanced
        value = quantize(quantity * price * rate_now / pence, 2)
        cost = quantize(quantity * average * rate_then / pence, 2)
        in_pies = ZERO if r.random() < 0.7 else quantize(quantity / 4, 10)
        fx_impact = None
        if major(ins.currency) != acct:
            fx_impact = quantize(quantity * price * (rate_now - rate_then) / pence, 2)
        item = {
            "instrument": ins.ref(),
            "createdAt": iso(opened_ms, 180 if r.random() < 0.5 else 0, r.random() < 0.5),
            "quantity": quantity,
            "quantityAvailableForTrading": quantity - in_pies,
            "quantityInPies": in_pies,
            "currentPrice": price,
            "averagePricePaid": average,
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
        realized = decimal_between(rng(self.seed, self.spec.account_id, "pl"), "-500", "9000", 2)
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
                "realizedProfitLoss": realized + Decimal("3.17") * self.days_advanced,
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
