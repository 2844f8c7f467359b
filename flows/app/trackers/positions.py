"""Each holding change as a signed number of shares, splits turned into the shares they add."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from flows.app.trackers.ledger import Trade

ZERO = Decimal(0)
INBOUND = frozenset({"buy", "transfer_in"})
OUTBOUND = frozenset({"sell", "transfer_out"})


@dataclass(frozen=True)
class Delivery:
    """A trade with the shares it adds (positive) or removes (negative) and its value."""

    trade: Trade
    quantity: Decimal
    value: Decimal


def deliveries(trades: Iterable[Trade]) -> Iterator[Delivery]:
    """The shares each trade moves, in the trades' order (by account, instrument and time).

    A split adds ``held x (ratio - 1)`` shares at no value, so the holding after it is
    ``held x ratio``; an adjustment (or a kind the engine does not know) moves its own
    signed quantity.
    """
    held: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for trade in trades:
        key = (trade.account_id, trade.instrument.key)
        if trade.kind in INBOUND:
            moved, value = trade.quantity, trade.value
        elif trade.kind in OUTBOUND:
            moved, value = -trade.quantity, trade.value
        elif trade.kind == "split" and trade.ratio is not None:
            moved, value = held[key] * (trade.ratio - 1), ZERO
        else:
            moved, value = trade.quantity, ZERO
        held[key] += moved
        if moved:
            yield Delivery(trade, moved, value)
