"""Cash movements: deposits, withdrawals, fees, transfers and small daily-interest deposits."""

from __future__ import annotations

from decimal import Decimal

from sandbox.history import Series
from sandbox.wire import decimal_between, iso_varied, quantize, rng, uuid_like

# (internal kind, API type, share of items)
_KINDS = (
    ("interest", "DEPOSIT", 0.60),
    ("deposit", "DEPOSIT", 0.80),
    ("withdrawal", "WITHDRAW", 0.87),
    ("fee", "FEE", 0.93),
    ("transfer", "TRANSFER", 1.0),
)


class TransactionSeries(Series):
    """Transactions over the years; the CSV report tells interest apart from deposits."""

    kind = "transaction"
    group = 3

    def item(self, i: int) -> dict:
        """The JSON-ready transaction ``i`` (0 = oldest)."""
        return self.detailed(i)[1]

    def detailed(self, i: int) -> tuple[str, dict]:
        """(internal kind, item) of transaction ``i``."""
        ms = self.timeline.time_ms(i)
        r = rng(self.seed, self.spec.account_id, self.kind, i)
        roll = r.random()
        kind, api_type = next((k, t) for k, t, edge in _KINDS if roll < edge)
        if kind == "interest":
            amount = decimal_between(r, "0.01", "3.80", 2)
        elif kind == "deposit":
            amount = Decimal(r.choice((50, 100, 150, 200, 250, 500, 1000, 2500)))
            amount = quantize(amount, 2 if r.random() < 0.8 else 10)
        elif kind == "withdrawal":
            amount = -decimal_between(r, "20", "1500", 2)
        elif kind == "fee":
            amount = -decimal_between(r, "0.01", "4.99", 2)
        else:
            amount = decimal_between(r, "25", "2000", 0) * r.choice((1, -1))
        item = {
            "type": api_type,
            "amount": amount,
            "reference": uuid_like(self.seed, self.spec.account_id, self.kind, i),
            "dateTime": iso_varied(ms, r),
            "currency": self.spec.currency,
        }
        if self.extra_fields:
            item["description"] = kind.upper()
        return kind, item

    def reference_index(self, ms: int, reference: str) -> int:
        """Index of the item ``reference`` in the second of ``ms``; else the newest at/before."""
        second = ms - ms % 1000
        hi = self.timeline.index_at_or_before(second + 999)
        i = hi
        while i >= 0 and self.timeline.time_ms(i) >= second:
            if self.item(i)["reference"] == reference:
                return i
            i -= 1
        return self.timeline.index_at_or_before(ms)

    def ticker(self, item: dict) -> str | None:
        """Transactions carry no ticker."""
        return None

    def add_to_totals(self, totals: dict, item: dict) -> None:
        """Count and sum ``amount``."""
        totals["count"] += 1
        totals["amount"] += item["amount"]
