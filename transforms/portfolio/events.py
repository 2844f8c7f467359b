"""Position-changing events: the one input of the gains and holdings engine."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

BUY = "buy"
SELL = "sell"
SPLIT = "split"
TRANSFER_IN = "transfer_in"
TRANSFER_OUT = "transfer_out"
ADJUST = "adjust"
KINDS = frozenset({BUY, SELL, SPLIT, TRANSFER_IN, TRANSFER_OUT, ADJUST})
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Event:
    """One change of a position: a trade, a split, a transfer or an adjustment.

    ``quantity`` is positive for trades and transfers and signed for adjustments;
    ``value`` is the gross trade value and ``fees`` the trade's costs, both in the account
    currency; ``ratio`` is a split's new shares per old share. Any ``kind`` outside
    ``KINDS`` is treated as an adjustment: ``action`` says which the engine applies.
    """

    account_id: int
    event_id: str
    at: datetime
    instrument: str
    ticker: str | None
    isin: str | None
    kind: str
    quantity: Decimal
    value: Decimal
    fees: Decimal
    currency: str
    ratio: Decimal | None = None
    broker_result: Decimal | None = None
    # what the engine does with the event: its kind, or ``adjust`` for an unknown kind
    action: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"event {self.event_id}: naive timestamp {self.at}")
        if self.at.tzinfo is not UTC:
            object.__setattr__(self, "at", self.at.astimezone(UTC))
        object.__setattr__(self, "action", self.kind if self.kind in KINDS else ADJUST)


def events_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Event]:
    """Events from dict rows with ``Event``'s field names, by account, instrument and time.

    Naive timestamps are UTC; pandas Timestamps, ISO strings, ints and strings for numbers
    are accepted. A row without ``instrument`` pools on its ISIN, else its ticker. Events
    at the same time keep the order of ``rows``.
    """
    events = [_event(row) for row in rows]
    events.sort(key=lambda e: (e.account_id, e.instrument, e.at))
    return events


def positions(events: Iterable[Event]) -> Iterator[list[Event]]:
    """The events of each account and instrument, in time order (input order on ties)."""
    ordered = sorted(events, key=lambda e: (e.account_id, e.instrument, e.at))
    for _, group in groupby(ordered, key=lambda e: (e.account_id, e.instrument)):
        yield list(group)


def _event(row: Mapping[str, Any]) -> Event:
    """One row as an event."""
    ticker, isin = _text(row.get("ticker")), _text(row.get("isin"))
    instrument = _text(row.get("instrument")) or isin or ticker
    if instrument is None:
        raise ValueError(f"event {row.get('event_id')}: no instrument, ISIN or ticker")
    return Event(
        int(row["account_id"]),
        str(row["event_id"]),
        _timestamp(row["at"]),
        instrument,
        ticker,
        isin,
        str(row["kind"]),
        _decimal(row.get("quantity")) or ZERO,
        _decimal(row.get("value")) or ZERO,
        _decimal(row.get("fees")) or ZERO,
        str(row["currency"]),
        _decimal(row.get("ratio")),
        _decimal(row.get("broker_result")),
    )


def _timestamp(value: Any) -> datetime:
    """A tz-aware UTC datetime; naive input is UTC."""
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        raise ValueError(f"not a timestamp: {value!r:.40}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _decimal(value: Any) -> Decimal | None:
    """An exact Decimal, or None for a missing value (None, NaN, pandas NA)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # a float is taken as the number its shortest repr shows, as a CSV would write it
        return None if math.isnan(value) else Decimal(repr(value))
    if isinstance(value, str):
        return Decimal(value)
    if isinstance(value, numbers.Integral):  # numpy integers too
        return Decimal(int(value))
    if _missing(value):
        return None
    raise ValueError(f"not a number: {value!r:.40}")


def _text(value: Any) -> str | None:
    """A non-empty string, or None."""
    if type(value) is str:
        return value or None
    if value is None or (not isinstance(value, str) and _missing(value)):
        return None
    return str(value) or None


def _missing(value: Any) -> bool:
    """Whether ``value`` is a missing marker such as pandas NA or NaT."""
    try:
        return bool(value != value) or type(value).__name__ in {"NAType", "NaTType"}
    except TypeError:
        return True
