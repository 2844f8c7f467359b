"""Holdings by day: each position's average-cost pool after every UTC day that changed it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from itertools import groupby
from typing import NamedTuple

from transforms.portfolio.events import Event, positions
from transforms.portfolio.gains import AveragePool, Disposal, precise, rounded


class HoldingChange(NamedTuple):
    """One row of table ``holding_changes`` (without load metadata)."""

    account_id: int
    instrument: str
    day: date
    ticker: str | None
    isin: str | None
    quantity: Decimal
    cost_basis: Decimal
    cost_basis_with_fees: Decimal
    currency: str


@precise
def track_position(events: Sequence[Event]) -> tuple[list[Disposal], list[HoldingChange]]:
    """Average-cost disposals and holding changes of one position's events, in time order.

    A day gets a row when its end differs from the previous row (a position that is
    emptied gets a row with quantity 0); ticker, ISIN and currency are the day's last.
    """
    pool = AveragePool()
    disposals: list[Disposal] = []
    changes: list[HoldingChange] = []
    previous = pool.state()
    for day, group in groupby(events, key=lambda e: e.at.date()):
        for event in group:
            row = pool.apply(event)
            if row is not None:
                disposals.append(row)
        state = pool.state()
        if state != previous:
            quantity, cost, with_fees = map(rounded, state)
            changes.append(
                HoldingChange(
                    event.account_id,
                    event.instrument,
                    day,
                    event.ticker,
                    event.isin,
                    quantity,
                    cost,
                    with_fees,
                    event.currency,
                )
            )
            previous = state
    return disposals, changes


def holding_changes(events: Iterable[Event]) -> list[HoldingChange]:
    """Holding changes of any events, position by position."""
    return [change for position in positions(events) for change in track_position(position)[1]]
