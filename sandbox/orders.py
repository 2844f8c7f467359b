"""Historical orders: ``{order, fill}`` items by quantity or by value, with fills and taxes.

Order ``i`` is drafted from a hash of (seed, account, i): instrument, side, strategy,
status, price and size. The account's ledger (``sandbox.ledger``) walks the drafts once in
time order and says what the past made of each: a sell of more than is held is cut to the
holding, a sell of nothing is a buy, a retired instrument is sold out, two orders of one
second trade different instruments, and every sell has its average-cost result. The
cosmetic rest (type, origin, ids, time zones, the odd transaction fee) comes from a
generator seeded with (seed, account, "order", i), as in every other history. A fill comes
before the next order's instant, so fills keep the order of their orders.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from sandbox.history import Basis, Series
from sandbox.instruments import fx, major
from sandbox.ledger import Draft, Ledger, gross_value
from sandbox.timeline import DAY_MS
from sandbox.wire import TEN_PLACES, decimal_between, iso_varied, quantize, rng

_ORIGINS = ("WEB", "IOS", "ANDROID", "API", "AUTOINVEST", "INSTRUMENT_AUTOINVEST", "SYSTEM")
_ORIGIN_WEIGHTS = (25, 30, 20, 5, 12, 5, 3)
_TYPES = ("MARKET", "LIMIT", "STOP", "STOP_LIMIT")
_TYPE_WEIGHTS = (70, 20, 6, 4)
ZERO = Decimal(0).quantize(TEN_PLACES)  # the API renders a zero as 0E-10
_WORDS = struct.Struct("<8I").unpack
_SHARE = 2**32 // 100  # a percent of a 32-bit word
_CENT, _ONE, _EVEN = Decimal("0.01"), Decimal(1), ROUND_HALF_EVEN
# retired instruments close between these fractions of the original history
_CLOSING = (0.1, 0.85)


class OrderSeries(Series):
    """Orders placed over the years; most filled, some cancelled or rejected without fill."""

    kind = "order"
    group = 3

    def __init__(
        self, basis: Basis, count: int, start_ms: int, end_ms: int, kept: tuple[int, ...] = (0,)
    ) -> None:
        """As a series, with ``kept`` the universe slots never sold out."""
        super().__init__(basis, count, start_ms, end_ms)
        seed, spec, universe = basis.seed, basis.spec, basis.universe
        self.kept = kept
        self._hash = hashlib.blake2b(
            repr((seed, spec.account_id, self.kind)).encode(), digest_size=32
        )
        r = rng(seed, spec.account_id, "retired")
        low, high = (start_ms + int(f * (end_ms - start_ms)) for f in _CLOSING)
        retired = [slot for slot in range(len(universe)) if slot not in set(kept)]
        self.closes = {slot: r.randrange(low, high + 1) for slot in retired}
        self.ledger = Ledger(self.drafts, self.draft, lambda: self.count, kept, self.closes)

    def drafts(self, lo: int, hi: int) -> Iterator[Draft]:
        """Drafts of orders ``lo .. hi-1``, oldest first."""
        for i, ms in enumerate(self.timeline.times(lo, hi), lo):
            yield self.draft(i, None, ms)

    def draft(self, i: int, slot: int | None = None, ms: int | None = None) -> Draft:
        """Order ``i`` before the past is consulted; ``slot`` forces its instrument."""
        if ms is None:
            ms = self.timeline.time_ms(i)
        h = self._hash.copy()
        h.update(b"%d" % i)
        w = _WORDS(h.digest())
        if slot is None:
            slot = w[0] * len(self.universe) >> 32
            if ms >= self.closes.get(slot, ms + 1):
                slot = self.kept[w[7] * len(self.kept) >> 32]
        ins = self.universe[slot]
        roll = w[3] // _SHARE
        status = "FILLED" if roll < 88 else ("CANCELLED" if roll < 97 else "REJECTED")
        price = (ins.price * (7000 + (w[4] * 6001 >> 32))).scaleb(-4).quantize(_CENT, _EVEN)
        rate, unit = _rates(ins.currency, self.spec.currency, ms // DAY_MS)
        by_value = w[2] < 30 * _SHARE
        value = None
        if by_value:
            value = Decimal(1000 + (w[5] * 249_001 >> 32)).scaleb(-2)
            quantity = (value / (price * unit)).quantize(TEN_PLACES, _EVEN)
        else:
            raw = Decimal(2000 + (w[5] * 298_001 >> 32)).scaleb(-2) / (price * unit)
            if w[6] < 45 * _SHARE:
                raw = max(_ONE, raw.to_integral_value(_EVEN))
            quantity = raw.quantize(TEN_PLACES, _EVEN)
        sell = w[1] < 22 * _SHARE
        return Draft(
            ms, slot, sell, by_value, status, status == "FILLED", price, rate, unit, quantity, value
        )

    def item(self, i: int) -> dict:
        """The JSON-ready ``{order, fill}`` item ``i`` (0 = oldest)."""
        sell, slot, quantity, realised = self.ledger.outcome(i)
        d = self.draft(i, slot)
        by_value = d.by_value and slot is None
        value = d.value if by_value else None
        if quantity is None:
            quantity = d.quantity
        elif by_value:
            value = gross_value(quantity, d)  # cut to the holding: the value of what is sold
        ins = self.universe[d.slot]
        r = rng(self.seed, self.spec.account_id, self.kind, i)
        acct = self.spec.currency
        kind = "MARKET" if by_value else r.choices(_TYPES, _TYPE_WEIGHTS)[0]
        signed = -quantity if sell else quantity
        filled = d.filled
        origin = r.choices(_ORIGINS, _ORIGIN_WEIGHTS)[0]
        if r.random() < 0.005:
            origin = "PIE_REBALANCE"  # not in the specification's enumeration
        order = {
            "id": 30_000_000_000 + i * 7 + r.randrange(7),
            "strategy": "VALUE" if by_value else "QUANTITY",
            "type": kind,
            "ticker": ins.ticker,
            "quantity": None if by_value else signed,
            "filledQuantity": None if by_value else (signed if filled else ZERO),
            "value": value,
            "filledValue": (value if filled else ZERO) if by_value else None,
            "limitPrice": _offset(d.price, r, 1 if sell else -1) if "LIMIT" in kind else None,
            "stopPrice": _offset(d.price, r, -1 if sell else 1) if "STOP" in kind else None,
            "status": d.status,
            "currency": acct,
            "extendedHours": ins.market.extended and r.random() < 0.1,
            "initiatedFrom": origin,
            "side": "SELL" if sell else "BUY",
            "timeInForce": "DAY" if kind == "MARKET" else r.choice(("DAY", "GOOD_TILL_CANCEL")),
            "createdAt": iso_varied(d.ms, r),
            "instrument": ins.ref(),
        }
        if self.extra_fields:
            order["pieId"] = None
        fill = None
        if filled:
            # before the next order's instant: fills keep the order of their orders
            filled_ms = min(d.ms + r.randrange(50, 4000), self.timeline.next_ms(i) - 1)
            filled_at = iso_varied(filled_ms, r)
            gross = gross_value(quantity, d)
            taxes = [{**tax, "chargedAt": filled_at} for tax in _taxes(r, ins, acct, gross, sell)]
            charges = sum((-t["quantity"] for t in taxes), Decimal(0))
            fill = {
                "id": 15_000_000_000 + i * 5 + r.randrange(5),
                "quantity": signed,
                "price": d.price,
                "type": "TRADE",
                "tradingMethod": "OTC" if r.random() < 0.05 else "TOTV",
                "filledAt": filled_at,
                "walletImpact": {
                    "currency": acct,
                    "netValue": gross - charges if sell else gross + charges,
                    "realisedProfitLoss": realised if sell else ZERO,
                    "fxRate": quantize(d.rate, 10),
                    "taxes": taxes,
                },
            }
        return {"order": order, "fill": fill}

    def ticker(self, item: dict) -> str | None:
        """The order's ticker."""
        return item["order"]["ticker"]

    def empty_totals(self) -> dict[str, object]:
        """Zeroed order figures."""
        return {"count": 0, "fills": 0, "taxes": 0, "fill_net_value": Decimal(0)}

    def add_to_totals(self, totals: dict, item: dict) -> None:
        """Count orders, fills and taxes; sum the fills' net values."""
        totals["count"] += 1
        fill = item["fill"]
        if fill is not None:
            totals["fills"] += 1
            totals["taxes"] += len(fill["walletImpact"]["taxes"])
            totals["fill_net_value"] += fill["walletImpact"]["netValue"]


@lru_cache(maxsize=65_536)
def _rates(currency: str, account_currency: str, day: int) -> tuple[Decimal, Decimal]:
    """(account money per major unit, per price unit) of an instrument currency on a day."""
    rate = fx(major(currency), account_currency, day)
    return rate, rate / 100 if currency == "GBX" else rate


def _offset(price: Decimal, r, direction: int) -> Decimal:
    return quantize(price * (1 + direction * decimal_between(r, "0.005", "0.05", 3)), 2)


def _taxes(r, ins, acct: str, gross: Decimal, sell: bool) -> list[dict]:
    """Charges on a fill: negative amounts in the account currency, one per name (the
    caller stamps their time)."""
    found: list[tuple[str, Decimal]] = []
    if major(ins.currency) != acct:
        found.append(("CURRENCY_CONVERSION_FEE", gross * Decimal("0.0015")))
    if ins.market.code == "LSE" and not sell and ins.type == "STOCK":
        found.append(("STAMP_DUTY_RESERVE_TAX", gross * Decimal("0.005")))
    if ins.market.code == "EURONEXT_PAR" and not sell:
        found.append(("FRENCH_TRANSACTION_TAX", gross * Decimal("0.004")))
    if ins.market.country == "US" and sell:
        found.append(("FINRA_FEE", Decimal("0.01") + gross * Decimal("0.0000166")))
    if r.random() < 0.03:
        found.append(("TRANSACTION_FEE", Decimal("0.05")))
    return [
        {"name": name, "quantity": -max(quantize(amount, 2), Decimal("0.01")), "currency": acct}
        for name, amount in found
    ]
