"""UK share identification for Capital Gains Tax: same day, next 30 days, then the s104 pool."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from transforms.portfolio.events import (
    ADJUST,
    BUY,
    SELL,
    SPLIT,
    TRANSFER_IN,
    TRANSFER_OUT,
    ZERO,
    Event,
)
from transforms.portfolio.gains import (
    POOL,
    SHORT,
    UK,
    AveragePool,
    Disposal,
    Sale,
    disposal,
    matching_text,
    precise,
    scaled,
)

LONDON = ZoneInfo("Europe/London")
WINDOW = timedelta(days=30)
ZERO_OFFSET = timedelta(0)
SAME_DAY, THIRTY_DAYS = "same day", "30 days"
ONE = Decimal(1)
# smaller differences are residues of converting quantities between split units, not shares
RESIDUE = Decimal("1E-30")


def uk_date(at: datetime) -> date:
    """The date of a UTC ``at`` in the UK (Europe/London)."""
    # London has never been more than two hours ahead of UTC or a minute and a quarter
    # behind it, so between 01:00 and 22:00 UTC the date is the same: no zone lookup needed
    if 0 < at.hour < 22 and at.utcoffset() == ZERO_OFFSET:
        return at.date()
    return at.astimezone(LONDON).date()


def tax_year(day: date) -> str:
    """The UK tax year (6 April to 5 April) holding ``day``, e.g. ``'2024/25'``."""
    start = day.year if (day.month, day.day) >= (4, 6) else day.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def _clean(quantity: Decimal) -> Decimal:
    """``quantity``, or zero when it is only a residue of unit conversion."""
    return ZERO if abs(quantity) < RESIDUE else quantity


@dataclass(eq=False, slots=True)
class _Side:
    """One UK day's acquisitions or disposals, quantities in base units (before any split).

    ``amount`` is the cost with fees of acquisitions or the gross proceeds of disposals;
    ``index`` is the position of the day's last event of this side and ``factor`` the units
    per base unit at that event; ``cost`` and ``rules`` record a disposal's matches.
    """

    quantity: Decimal = ZERO
    amount: Decimal = ZERO
    fees: Decimal = ZERO
    left: Decimal = ZERO
    index: int = -1
    factor: Decimal = ONE
    cost: Decimal = ZERO
    rules: dict[str, Decimal] = field(default_factory=dict)

    def add(self, index: int, event: Event, base: Decimal, factor: Decimal) -> None:
        """Count one acquisition or disposal event of the day."""
        self.quantity += base
        self.left += base
        self.amount += event.value if event.action == SELL else event.value + event.fees
        self.fees += event.fees
        self.index, self.factor = index, factor

    def take(self, wanted: Decimal) -> tuple[Decimal, Decimal]:
        """Match up to ``wanted`` of what is left of this acquisition: (quantity, cost)."""
        taken = min(wanted, self.left)
        if taken <= 0:
            return ZERO, ZERO
        self.left = _clean(self.left - taken)
        return taken, self.amount * taken / self.quantity

    def match(self, rule: str, quantity: Decimal, cost: Decimal) -> None:
        """Record that ``quantity`` of this disposal is matched under ``rule`` at ``cost``."""
        if quantity > 0:
            self.left = _clean(self.left - quantity)
            self.cost += cost
            self.rules[rule] = self.rules.get(rule, ZERO) + quantity

    def unmatched_cost(self) -> Decimal:
        """The cost of what is left of this acquisition."""
        if self.left == self.quantity:
            return self.amount
        return self.amount * self.left / self.quantity


@precise
def uk_position(events: Sequence[Event]) -> list[Disposal]:
    """UK disposals of one position's events (time order), one per UK day with sales.

    A day's disposal is matched with the same day's acquisitions, then with those of the
    next 30 days (earliest first, earlier disposals first), then with the section 104 pool.
    Quantities are compared in base units, so a split between a sale and its repurchase
    converts the repurchased shares into the units of the sale.
    """
    days = [uk_date(event.at) for event in events]
    bases, buys, sells = _sides(events, days)
    for day, sale in sells.items():
        if day in buys:
            sale.match(SAME_DAY, *buys[day].take(sale.left))
    _match_window(buys, sells)
    return _match_pool(events, days, bases, buys, sells)


def _sides(
    events: Sequence[Event], days: list[date]
) -> tuple[list[Decimal], dict[date, _Side], dict[date, _Side]]:
    """Quantities in base units, and the acquisitions and disposals of each UK day."""
    factor, bases = ONE, []
    buys: dict[date, _Side] = {}
    sells: dict[date, _Side] = {}
    for index, event in enumerate(events):
        action = event.action
        if action == SPLIT:
            factor = scaled(factor, event.ratio)
        base = event.quantity / factor
        bases.append(base)
        if action in (BUY, SELL):
            sides = buys if action == BUY else sells
            side = sides.get(days[index])
            if side is None:
                side = sides[days[index]] = _Side()
            side.add(index, event, base, factor)
    return bases, buys, sells


def _match_window(buys: dict[date, _Side], sells: dict[date, _Side]) -> None:
    """Match what is left of each disposal with acquisitions of the following 30 days."""
    acquired = sorted(buys)
    for day in sorted(sells):
        sale = sells[day]
        start = bisect_right(acquired, day)
        end = bisect_right(acquired, day + WINDOW)
        for later in acquired[start:end]:
            if sale.left <= 0:
                break
            sale.match(THIRTY_DAYS, *buys[later].take(sale.left))


def _match_pool(
    events: Sequence[Event],
    days: list[date],
    bases: list[Decimal],
    buys: dict[date, _Side],
    sells: dict[date, _Side],
) -> list[Disposal]:
    """Walk the events through the s104 pool, matching what is left of each disposal."""
    pool, rows = AveragePool(), []
    for index, event in enumerate(events):
        action, base = event.action, bases[index]
        if action == BUY:
            bought = buys[days[index]]
            if bought.index == index and bought.left > 0:
                cost = bought.unmatched_cost()
                pool.add(bought.left, cost, cost)
        elif action == SELL:
            sale = sells[days[index]]
            if sale.index == index:
                taken, _, cost = pool.take(sale.left)
                sale.match(POOL, taken, cost)
                sale.match(SHORT, sale.left, ZERO)
                rows.append(_row(event, days[index], sale))
        elif action == TRANSFER_IN:
            pool.add(base, event.value + event.fees, event.value + event.fees)
        elif action == TRANSFER_OUT:
            pool.take(base)
        elif action == ADJUST:
            pool.adjust(base)
    return rows


def _in_units(base: Decimal, units: Decimal) -> Decimal:
    """A quantity in base units back in the units of a sale, the conversion's residue dropped.

    75.00001803475 shares at 0.75 a base unit are 100.00002404633... base units, which
    times 0.75 fall a residue short of the shares sold, and would round down at 10 places
    where the sale itself rounds up.
    """
    return (base * units).quantize(RESIDUE)


def _row(last: Event, day: date, sale: _Side) -> Disposal:
    """The row of one UK day's disposal, quantities in the units of its last sale."""
    units = sale.factor
    matching = matching_text((rule, _in_units(q, units)) for rule, q in sale.rules.items())
    disposal_id = f"{last.instrument}:{day.isoformat()}"
    quantity = _in_units(sale.quantity, units)
    matched = Sale(UK, disposal_id, day, tax_year(day), quantity, sale.amount, sale.fees,
                   acquisition_costs=sale.cost, matching=matching)  # fmt: skip
    return disposal(last, matched)
