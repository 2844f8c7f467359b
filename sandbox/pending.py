"""Pending orders: the few limit and stop orders an account has open on the current day."""

from __future__ import annotations

from decimal import Decimal

from sandbox.history import Basis
from sandbox.instruments import fx, major
from sandbox.orders import ZERO
from sandbox.timeline import DAY_MS
from sandbox.wire import decimal_between, iso_varied, quantize, rng, shares_for

_TYPES = ("LIMIT", "STOP", "STOP_LIMIT", "MARKET")
_STATUSES = ("NEW", "CONFIRMED", "PARTIALLY_FILLED", "UNCONFIRMED", "PENDING_REVIEW")


def pending_orders(basis: Basis, now_ms: int) -> list[dict]:
    """The orders open at ``now_ms``: one to four, new ones each simulated day.

    A market order is open only when placed outside trading hours; one order in twenty
    has a status outside the specification's enumeration, as real accounts show.
    """
    day = now_ms // DAY_MS
    r = rng(basis.seed, basis.spec.account_id, "pending", day)
    return [_order(basis, day, now_ms, k) for k in range(1 + r.randrange(4))]


def _order(basis: Basis, day: int, now_ms: int, k: int) -> dict:
    currency, universe = basis.spec.currency, basis.universe
    r = rng(basis.seed, basis.spec.account_id, "pending", day, k)
    ins = universe[r.randrange(len(universe))]
    kind = r.choice(_TYPES)
    sell = r.random() < 0.3
    price = quantize(ins.price * decimal_between(r, "0.8", "1.2", 4), 2)
    rate = fx(major(ins.currency), currency, day)
    unit = rate / 100 if ins.currency == "GBX" else rate
    quantity = shares_for(r, decimal_between(r, "50", "2000", 2), price * unit)
    status = r.choice(_STATUSES[:4]) if r.random() < 0.95 else _STATUSES[4]
    filled = quantize(quantity / 3, 10) if status == "PARTIALLY_FILLED" else ZERO
    signed = -quantity if sell else quantity
    step = Decimal("0.98") if sell == (kind == "STOP") else Decimal("1.02")
    return {
        "id": 40_000_000_000 + day * 10 + k,
        "strategy": "QUANTITY",
        "type": kind,
        "ticker": ins.ticker,
        "quantity": signed,
        "filledQuantity": -filled if sell else filled,
        "value": None,
        "filledValue": None,
        "limitPrice": quantize(price * step, 2) if "LIMIT" in kind else None,
        "stopPrice": quantize(price / step, 2) if "STOP" in kind else None,
        "status": status,
        "currency": currency,
        "extendedHours": kind == "MARKET" or r.random() < 0.1,
        "initiatedFrom": r.choice(("WEB", "IOS", "ANDROID", "API")),
        "side": "SELL" if sell else "BUY",
        "timeInForce": r.choice(("DAY", "GOOD_TILL_CANCEL")),
        "createdAt": iso_varied(now_ms - r.randrange(60_000, 3 * DAY_MS), r),
        "instrument": ins.ref(),
    }
