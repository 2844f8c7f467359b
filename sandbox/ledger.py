"""One account's ledger: its orders walked once in time order, the holdings they leave and
every sell's realised result, the way Trading 212 reports it (average cost).

The model, in the account currency unless said otherwise:

* A fill's gross value is ``quantity * price * rate`` rounded half-even to the cent (the
  rate converts one price unit, a penny for a GBX price). Its ``netValue`` is
  ``gross + charges`` for a buy and ``gross - charges`` for a sell, the charges being the
  sum of ``-tax.quantity``: so gross = ``netValue - charges`` (buy), ``netValue + charges``
  (sell).
* Per instrument the ledger holds the quantity, its ``cost`` (the sum of the buys' gross
  values) and the same cost in the instrument's currency (the sum of ``quantity * price``,
  for ``averagePricePaid``).
* A sell of ``q`` out of ``held`` takes ``share = q * cost / held`` off the cost (all of
  it when ``q == held``) and the same proportion off the instrument-currency cost. Its
  ``realisedProfitLoss`` is ``gross - share`` rounded half-up to the cent; a buy's is
  zero. A holding sold to zero keeps no cost. The costs are Decimals with 50 significant
  digits, as the warehouse's gains engine keeps them: exact but for the divisions.
* No order sells more than is held at its instant: a sell of more is cut to the holding
  (a value order's value becomes the gross of that quantity) and a sell when nothing is
  held is a buy. Unfilled orders are judged the same way but move nothing.
* Instruments outside ``kept`` are retired, each at its own instant: later orders that pick
  one trade a kept instrument instead (the series' draft does that), and the first filled
  order at or after the instant sells the whole holding, whatever it was drafted as. So
  about ``len(kept)`` positions stay open, and the others show whole disposals.
* Two orders of one second trade different instruments (a later one moves to a kept
  instrument not yet traded in that second), so fills rendered to the second never tie
  within a position.

Fills come in the order of their orders (their instants increase with the index), so a
model walking the fills by time meets them in the ledger's order. Nothing is stored per
order but its side, its result in cents and, for the few changed ones, its instrument
and quantity (5 MB for 100,000 orders, rate caches included): item ``i`` stays
random-access once the walk has passed it. The walk takes 12 to 18 microseconds an order
(1.4 to 1.8 s for 100,000, 12 s for a million, on two shared cores), once per account
and process; a moved clock extends it.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from typing import NamedTuple

CENT = Decimal("0.01")
# the money of the walk: 50 significant digits, as the warehouse's gains engine keeps
_EXACT = Context(prec=50)


class Draft(NamedTuple):
    """What an order is before the past is consulted (all but the cosmetic fields)."""

    ms: int
    slot: int  # index in the account's universe
    sell: bool
    by_value: bool
    status: str
    filled: bool
    price: Decimal  # instrument currency
    rate: Decimal  # account currency per major unit of the instrument's currency
    unit: Decimal  # account currency per price unit (a penny for GBX)
    quantity: Decimal
    value: Decimal | None


class Outcome(NamedTuple):
    """What the past made of a draft: its side, instrument, quantity and result."""

    sell: bool
    slot: int | None  # another instrument than the draft's, else None
    quantity: Decimal | None  # another quantity than the (re)drafted one's, else None
    realised: Decimal  # the fill's realisedProfitLoss in the account currency (0 for buys)


@dataclass
class Holding:
    """One instrument's open quantity and what it cost."""

    quantity: Decimal
    cost: Decimal  # account currency
    cost_in_currency: Decimal  # instrument currency (pence for GBX)
    opened_ms: int  # the order that opened the current holding


def gross_value(quantity: Decimal, draft: Draft) -> Decimal:
    """A fill's gross value in the account currency, to the cent (half to even)."""
    return (quantity * draft.price * draft.unit).quantize(CENT, ROUND_HALF_EVEN)


class Ledger:
    """The walk over one account's orders, extended to the newest order on demand."""

    def __init__(
        self,
        drafts: Callable[[int, int], Iterable[Draft]],
        draft: Callable[[int, int, int], Draft],
        count: Callable[[], int],
        kept: tuple[int, ...],
        closes: dict[int, int],
    ) -> None:
        self._drafts = drafts
        self._draft = draft
        self._count = count
        self._kept = kept
        self._closes = [*sorted((ms, slot) for slot, ms in closes.items()), (math.inf, -1)]
        self._next_close = 0
        self._lock = threading.Lock()
        self._sells = bytearray()
        self._cents = array("q")
        self._changed: dict[int, tuple[int | None, Decimal | None]] = {}
        self._holdings: dict[int, Holding] = {}
        self._realised = 0  # cents
        self._second = -1
        self._used: set[int] = set()  # instruments traded in that second

    @property
    def walked(self) -> int:
        """How many orders the walk has passed."""
        return len(self._sells)

    def outcome(self, i: int) -> Outcome:
        """What the past made of order ``i``."""
        if i >= len(self._sells):
            self._walk(i + 1)
        slot, quantity = self._changed.get(i, (None, None))
        return Outcome(self._sells[i] == 1, slot, quantity, Decimal(self._cents[i]).scaleb(-2))

    def holdings(self) -> dict[int, Holding]:
        """The open holdings after the newest order, by universe slot."""
        with self._lock:
            self._walk_locked(self._count())
            return {slot: replace(h) for slot, h in sorted(self._holdings.items())}

    def realised(self) -> Decimal:
        """The sum of every sell's realised result up to the newest order."""
        with self._lock:
            self._walk_locked(self._count())
            return Decimal(self._realised).scaleb(-2)

    def _walk(self, upto: int) -> None:
        with self._lock:
            self._walk_locked(upto)

    def _walk_locked(self, upto: int) -> None:
        start = len(self._sells)
        cents_of, sells, changes = self._cents, self._sells, self._changed
        for i, draft in enumerate(self._drafts(start, upto), start):
            sell, changed, cents = self._judge(i, draft)
            if changed is not None:
                changes[i] = changed
            cents_of.append(cents)
            self._realised += cents
            sells.append(sell)

    def _judge(self, i: int, d: Draft) -> tuple[bool, tuple | None, int]:
        """Judge draft ``i`` against the past and book its fill: (sell, change, cents)."""
        if d.ms // 1000 != self._second:
            self._second, self._used = d.ms // 1000, set()
        closing = slot = None
        if d.filled and self._closes[self._next_close][0] <= d.ms:
            closing = slot = self._closing(d.ms)
        if slot is None and d.slot in self._used:
            slot = self._other(i)
        if slot is not None:
            d = self._draft(i, slot, d.ms)
        self._used.add(d.slot)
        held = self._holdings.get(d.slot)
        quantity = None
        if closing is not None:
            sell, quantity = True, held.quantity
        else:
            sell = d.sell and held is not None
            if sell and d.quantity > held.quantity:
                quantity = held.quantity
        changed = None if slot is None and quantity is None else (slot, quantity)
        if not d.filled:
            return sell, changed, 0
        return sell, changed, self._book(d, sell, d.quantity if quantity is None else quantity)

    def _book(self, d: Draft, sell: bool, quantity: Decimal) -> int:
        """Apply a fill to its holding; the realised result in cents (0 for a buy)."""
        gross = gross_value(quantity, d)
        held = self._holdings.get(d.slot)
        add, sub, mul, div = _EXACT.add, _EXACT.subtract, _EXACT.multiply, _EXACT.divide
        if not sell:
            if held is None:
                self._holdings[d.slot] = Holding(quantity, gross, mul(quantity, d.price), d.ms)
            else:
                held.quantity = add(held.quantity, quantity)
                held.cost = add(held.cost, gross)
                held.cost_in_currency = add(held.cost_in_currency, mul(quantity, d.price))
            return 0
        if quantity == held.quantity:
            share = held.cost
            del self._holdings[d.slot]
        else:
            share = div(mul(quantity, held.cost), held.quantity)
            part = div(mul(quantity, held.cost_in_currency), held.quantity)
            held.cost_in_currency = sub(held.cost_in_currency, part)
            held.cost = sub(held.cost, share)
            held.quantity = sub(held.quantity, quantity)
        result = sub(gross, share).quantize(CENT, rounding=ROUND_HALF_UP)
        return int(result.scaleb(2))

    def _closing(self, ms: int) -> int | None:
        """The retired instrument a filled order at ``ms`` sells out, if one is due."""
        closes = self._closes  # ends with a close that never comes
        while closes[self._next_close][0] <= ms:
            slot = closes[self._next_close][1]
            if slot in self._used:
                return None  # traded this second already: the next order sells it
            self._next_close += 1
            if slot in self._holdings:
                return slot
        return None

    def _other(self, i: int) -> int | None:
        """A kept instrument not yet traded this second (None if every one was)."""
        kept = self._kept
        for k in range(len(kept)):
            other = kept[(i + k) % len(kept)]
            if other not in self._used:
                return other
        return None
