"""Historical orders: ``{order, fill}`` items by quantity or by value, with fills and taxes."""

from __future__ import annotations

from decimal import Decimal

from sandbox.history import Series
from sandbox.instruments import fx, major
from sandbox.timeline import DAY_MS
from sandbox.wire import TEN_PLACES, decimal_between, iso_varied, quantize, rng, shares_for

_ORIGINS = ("WEB", "IOS", "ANDROID", "API", "AUTOINVEST", "INSTRUMENT_AUTOINVEST", "SYSTEM")
_ORIGIN_WEIGHTS = (25, 30, 20, 5, 12, 5, 3)
_TYPES = ("MARKET", "LIMIT", "STOP", "STOP_LIMIT")
_TYPE_WEIGHTS = (70, 20, 6, 4)
ZERO = Decimal(0).quantize(TEN_PLACES)  # the API renders a zero as 0E-10


class OrderSeries(Series):
    """Orders placed over the years; most filled, some cancelled or rejected without fill."""

    kind = "order"
    group = 3

    def item(self, i: int) -> dict:
        """The JSON-ready ``{order, fill}`` item ``i`` (0 = oldest)."""
        ms = self.timeline.time_ms(i)
        r = rng(self.seed, self.spec.account_id, self.kind, i)
        acct = self.spec.currency
        ins = self.universe[r.randrange(len(self.universe))]
        sell = r.random() < 0.22
        by_value = r.random() < 0.3
        kind = "MARKET" if by_value else r.choices(_TYPES, _TYPE_WEIGHTS)[0]
        roll = r.random()
        status = "FILLED" if roll < 0.88 else ("CANCELLED" if roll < 0.97 else "REJECTED")
        price = quantize(ins.price * decimal_between(r, "0.7", "1.3", 4), 2)
        rate = fx(major(ins.currency), acct, ms // DAY_MS)
        unit = rate / 100 if ins.currency == "GBX" else rate  # account money per price unit
        if by_value:
            value = decimal_between(r, "10", "2500", 2)
            quantity = quantize(value / (price * unit), 10)
        else:
            quantity = shares_for(r, decimal_between(r, "20", "3000", 2), price * unit)
            value = None
        signed = -quantity if sell else quantity
        filled = status == "FILLED"
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
            "limitPrice": _offset(price, r, -1 if not sell else 1) if "LIMIT" in kind else None,
            "stopPrice": _offset(price, r, 1 if not sell else -1) if "STOP" in kind else None,
            "status": status,
            "currency": acct,
            "extendedHours": ins.market.extended and r.random() < 0.1,
            "initiatedFrom": origin,
            "side": "SELL" if sell else "BUY",
            "timeInForce": "DAY" if kind == "MARKET" else r.choice(("DAY", "GOOD_TILL_CANCEL")),
            "createdAt": iso_varied(ms, r),
            "instrument": ins.ref(),
        }
        if self.extra_fields:
            order["pieId"] = None
        fill = None
        if filled:
            filled_ms = ms + r.randrange(50, 4000)
            filled_at = iso_varied(filled_ms, r)
            gross = quantize(quantity * price * unit, 2)
            taxes = _taxes(r, ins, acct, gross, sell, filled_at)
            charges = sum((-t["quantity"] for t in taxes), Decimal(0))
            fill = {
                "id": 15_000_000_000 + i * 5 + r.randrange(5),
                "quantity": signed,
                "price": price,
                "type": "TRADE",
                "tradingMethod": "OTC" if r.random() < 0.05 else "TOTV",
                "filledAt": filled_at,
                "walletImpact": {
                    "currency": acct,
                    "netValue": gross - charges if sell else gross + charges,
                    "realisedProfitLoss": decimal_between(r, "-150", "400", 2) if sell else ZERO,
                    "fxRate": quantize(rate, 10),
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


def _offset(price: Decimal, r, direction: int) -> Decimal:
    return quantize(price * (1 + direction * decimal_between(r, "0.005", "0.05", 3)), 2)


def _taxes(r, ins, acct: str, gross: Decimal, sell: bool, charged_at: str) -> list[dict]:
    """Charges on a fill: negative amounts in the account currency, one per name."""
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
        {"name": name, "quantity": -max(quantize(amount, 2), Decimal("0.01")), "currency": acct,
         "chargedAt": charged_at}
        for name, amount in found
    ]  # fmt: skip
