"""Realised gains of disposals by average cost (as Trading 212 computes them) and by FIFO."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from functools import wraps
from typing import NamedTuple, ParamSpec, TypeVar

from transforms.portfolio.events import (
    BUY,
    SELL,
    SPLIT,
    TRANSFER_IN,
    TRANSFER_OUT,
    ZERO,
    Event,
)
from transforms.values import DECIMAL_SCALE

# intermediate results keep 50 significant digits; outputs are rounded once, at the end
PRECISION = Context(prec=50)
QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
_ROUNDED_ZERO = ZERO.quantize(QUANTUM)
AVERAGE, FIFO, UK = "average", "fifo", "uk"
POOL, SHORT = "pool", "short"

P = ParamSpec("P")
R = TypeVar("R")


class Disposal(NamedTuple):
    """One row of table ``disposals`` (without load metadata)."""

    account_id: int
    method: str
    disposal_id: str
    disposed_at: datetime
    day: date
    year: str
    instrument: str
    ticker: str | None
    isin: str | None
    quantity: Decimal
    proceeds: Decimal
    sale_costs: Decimal
    acquisition_costs: Decimal
    allowable_costs: Decimal
    gain: Decimal
    currency: str
    matching: str
    result_before_fees: Decimal | None
    broker_result: Decimal | None


def precise(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` in the engine's decimal context, whatever the caller's."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(PRECISION):
            return function(*args, **kwargs)

    return wrapper


def rounded(value: Decimal) -> Decimal:
    """``value`` at the warehouse's scale (10 places, half to even), never negative zero."""
    result = value.quantize(QUANTUM, ROUND_HALF_EVEN, PRECISION)
    return result if result else _ROUNDED_ZERO


def scaled(quantity: Decimal, ratio: Decimal | None) -> Decimal:
    """A quantity after a split of ``ratio``; a split without a usable ratio changes nothing."""
    return quantity * ratio if ratio is not None and ratio > 0 else quantity


def matching_text(parts: Iterable[tuple[str, Decimal]]) -> str:
    """How a disposal was matched, e.g. ``"pool 10; short 3.5 without cost"``."""
    texts = []
    for rule, quantity in parts:
        amount = f"{rounded(quantity).normalize(PRECISION):f}"
        texts.append(f"short {amount} without cost" if rule == SHORT else f"{rule} {amount}")
    return "; ".join(texts)


class Sale(NamedTuple):
    """A disposal as a method matched it, its amounts exact: what its row is made from.

    A named tuple, as the rows are: one is made per disposal and method, and a frozen
    dataclass takes about four times as long to make.
    """

    method: str
    disposal_id: str
    day: date
    year: str
    quantity: Decimal
    proceeds: Decimal
    sale_costs: Decimal
    acquisition_costs: Decimal
    matching: str
    result_before_fees: Decimal | None = None
    broker_result: Decimal | None = None


def disposal(last: Event, sale: Sale) -> Disposal:
    """The disposal row of ``sale``, whose last sale event is ``last``.

    The amounts are rounded once; the allowable costs and the gain are worked out from the
    rounded amounts, so the row adds up exactly.
    """
    proceeds, sale_costs = rounded(sale.proceeds), rounded(sale.sale_costs)
    acquisition_costs = rounded(sale.acquisition_costs)
    allowable = acquisition_costs + sale_costs
    before_fees, broker = sale.result_before_fees, sale.broker_result
    return Disposal(
        last.account_id,
        sale.method,
        sale.disposal_id,
        last.at,
        sale.day,
        sale.year,
        last.instrument,
        last.ticker,
        last.isin,
        rounded(sale.quantity),
        proceeds,
        sale_costs,
        acquisition_costs,
        allowable,
        proceeds - allowable,
        last.currency,
        sale.matching,
        None if before_fees is None else rounded(before_fees),
        None if broker is None else rounded(broker),
    )


class AveragePool:
    """Trading 212's average-cost pool of one position.

    ``cost`` holds gross values only (the broker's basis), ``cost_with_fees`` adds the
    acquisition fees; whatever leaves the pool takes both in proportion to its quantity.
    """

    __slots__ = ("cost", "cost_with_fees", "quantity")

    def __init__(self) -> None:
        self.quantity = self.cost = self.cost_with_fees = ZERO

    def apply(self, event: Event) -> Disposal | None:
        """Change the pool by ``event``; a sale returns its disposal row."""
        action = event.action
        if action == SELL:
            return self._sell(event)
        if action in (BUY, TRANSFER_IN):
            self.add(event.quantity, event.value, event.value + event.fees)
        elif action == SPLIT:
            self.quantity = scaled(self.quantity, event.ratio)
        elif action == TRANSFER_OUT:
            self.take(event.quantity)
        else:
            self.adjust(event.quantity)
        return None

    def state(self) -> tuple[Decimal, Decimal, Decimal]:
        """(quantity, cost, cost with fees), exact."""
        return self.quantity, self.cost, self.cost_with_fees

    def add(self, quantity: Decimal, cost: Decimal, cost_with_fees: Decimal) -> None:
        """Put ``quantity`` into the pool at the given costs."""
        self.quantity += quantity
        self.cost += cost
        self.cost_with_fees += cost_with_fees

    def take(self, wanted: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """Remove up to ``wanted``: (quantity removed, its cost, its cost with fees)."""
        if wanted <= 0 or self.quantity <= 0:
            return ZERO, ZERO, ZERO
        if wanted >= self.quantity:
            taken = self.quantity, self.cost, self.cost_with_fees
            self.quantity = self.cost = self.cost_with_fees = ZERO
            return taken
        cost = self.cost * wanted / self.quantity
        with_fees = self.cost_with_fees * wanted / self.quantity
        self.add(-wanted, -cost, -with_fees)
        return wanted, cost, with_fees

    def adjust(self, change: Decimal) -> None:
        """Change the quantity without changing the cost; an emptied pool keeps no cost."""
        self.quantity += change
        if self.quantity <= 0:
            self.quantity = self.cost = self.cost_with_fees = ZERO

    def _sell(self, event: Event) -> Disposal:
        """A sale: the held part takes its average cost, any excess has none."""
        held, cost, with_fees = self.take(event.quantity)
        parts = [(POOL, held)] if held else []
        if event.quantity > held:
            parts.append((SHORT, event.quantity - held))
        day = event.at.date()
        sale = Sale(
            AVERAGE,
            event.event_id,
            day,
            str(day.year),
            event.quantity,
            event.value,
            event.fees,
            acquisition_costs=with_fees,
            matching=matching_text(parts),
            result_before_fees=event.value - cost,
            broker_result=event.broker_result,
        )
        return disposal(event, sale)


class FifoLots:
    """The open lots of one position, oldest first: [quantity, cost with fees, event id]."""

    __slots__ = ("lots",)

    def __init__(self) -> None:
        self.lots: deque[list] = deque()

    def apply(self, event: Event) -> Disposal | None:
        """Change the lots by ``event``; a sale returns its disposal row."""
        action = event.action
        if action == SELL:
            return self._sell(event)
        if action in (BUY, TRANSFER_IN):
            self.lots.append([event.quantity, event.value + event.fees, event.event_id])
        elif action == SPLIT:
            for lot in self.lots:
                lot[0] = scaled(lot[0], event.ratio)
        elif action == TRANSFER_OUT:
            self._take(event.quantity)
        else:
            self._adjust(event)
        return None

    def _take(self, wanted: Decimal) -> tuple[Decimal, list[tuple[str, Decimal]]]:
        """Consume up to ``wanted`` from the oldest lots: (cost, [(lot label, quantity)])."""
        cost, used = ZERO, []
        while wanted > 0 and self.lots:
            lot = self.lots[0]
            if wanted >= lot[0]:
                taken, part = lot[0], lot[1]
                self.lots.popleft()
            else:
                taken, part = wanted, lot[1] * wanted / lot[0]
                lot[0] -= taken
                lot[1] -= part
            cost += part
            wanted -= taken
            used.append((f"lot {lot[2]}", taken))
        return cost, used

    def _adjust(self, event: Event) -> None:
        """A quantity change without cost: every lot scales, or a costless lot opens."""
        held = sum(lot[0] for lot in self.lots)
        after = held + event.quantity
        if after <= 0:
            self.lots.clear()
        elif held <= 0:
            self.lots = deque([[after, ZERO, event.event_id]])
        else:
            for lot in self.lots:
                lot[0] = lot[0] * after / held

    def _sell(self, event: Event) -> Disposal:
        """A sale: the oldest lots first, any excess without cost."""
        cost, parts = self._take(event.quantity)
        held = sum(quantity for _, quantity in parts)
        if event.quantity > held:
            parts.append((SHORT, event.quantity - held))
        day = event.at.date()
        sale = Sale(FIFO, event.event_id, day, str(day.year), event.quantity, event.value,
                    event.fees, acquisition_costs=cost, matching=matching_text(parts))  # fmt: skip
        return disposal(event, sale)


@precise
def fifo_position(events: Sequence[Event]) -> list[Disposal]:
    """FIFO disposals of one position's events, in time order."""
    lots = FifoLots()
    return [row for event in events if (row := lots.apply(event)) is not None]
