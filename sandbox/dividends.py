"""Paid dividends: ``HistoryDividendItem`` records, net of withholding, in the account currency."""

from __future__ import annotations

from decimal import Decimal

from sandbox.history import Series
from sandbox.instruments import fx
from sandbox.timeline import DAY_MS
from sandbox.wire import (
    TEN_PLACES,
    decimal_between,
    iso_varied,
    quantize,
    rng,
    shares_for,
    uuid_like,
)

_OTHER_TYPES = (
    "DIVIDENDS_PAID_BY_US_CORPORATIONS",
    "DIVIDENDS_PAID_BY_FOREIGN_CORPORATIONS",
    "PROPERTY_INCOME",
    "RETURN_OF_CAPITAL",
    "CAPITAL_GAINS_DISTRIBUTION_NON_US",
    "INTEREST",
    "ORDINARY_MANUFACTURED_PAYMENT",
    "BONUS",
)
# Values the specification does not list yet; real accounts show such growth.
UNKNOWN_TYPES = ("ORDINARY_SCRIP_CASH_ALTERNATIVE", "SPECIAL_DIVIDEND_NON_US")


class DividendSeries(Series):
    """Dividends paid over the years, a few per payment second."""

    kind = "dividend"
    group = 3

    def item(self, i: int) -> dict:
        """The JSON-ready dividend ``i`` (0 = oldest)."""
        ms = self.timeline.time_ms(i)
        r = rng(self.seed, self.spec.account_id, self.kind, i)
        ins = self.universe[r.randrange(len(self.universe))]
        rate = fx(ins.currency, self.spec.currency, ms // DAY_MS)
        quantity = shares_for(r, decimal_between(r, "100", "9000", 2), ins.price * rate)
        per_share = quantize(ins.price * decimal_between(r, "0.002", "0.014", 4), 6)
        withheld = Decimal(ins.market.withholding)
        if self.spec.kind == "isa" and ins.market.country == "US":
            withheld = Decimal("0.15")
        amount = quantize(quantity * per_share * rate * (1 - withheld), 2)
        roll = r.random()
        kind = "ORDINARY"
        if roll > 0.985:
            kind = UNKNOWN_TYPES[i % len(UNKNOWN_TYPES)]
        elif roll > 0.85:
            kind = _OTHER_TYPES[r.randrange(len(_OTHER_TYPES))]
        if r.random() < 0.004:
            amount = Decimal(0).quantize(TEN_PLACES)  # renders as 0E-10
        in_euro = quantize(amount * fx(self.spec.currency, "EUR", ms // DAY_MS), 2)
        if amount.is_zero():
            in_euro = amount
        item = {
            "ticker": ins.ticker,
            "reference": uuid_like(self.seed, self.spec.account_id, self.kind, i),
            "quantity": quantity,
            "amount": amount,
            "amountInEuro": in_euro,
            "grossAmountPerShare": per_share,
            "paidOn": iso_varied(ms, r),
            "type": kind,
            "currency": self.spec.currency,
            "tickerCurrency": ins.currency,
            "instrument": ins.ref() if r.random() > 0.02 else None,
        }
        if self.extra_fields:
            item["withholdingTax"] = quantize(quantity * per_share * rate * withheld, 2)
        return item

    def withholding(self, item: dict) -> Decimal:
        """Tax withheld on a dividend, in the account currency (for the CSV report)."""
        gross = item["quantity"] * item["grossAmountPerShare"]
        rate = fx(item["tickerCurrency"], self.spec.currency)
        return max(Decimal(0), quantize(gross * rate, 2) - item["amount"])

    def add_to_totals(self, totals: dict, item: dict) -> None:
        """Count and sum ``amount``."""
        totals["count"] += 1
        totals["amount"] += item["amount"]
