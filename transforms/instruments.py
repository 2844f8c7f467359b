"""Instruments: the tradable instrument list from the metadata endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from transforms.frames import Normalised
from transforms.mapping import Mapping, normalise_table
from transforms.values import to_utc

INSTRUMENTS = Mapping(
    "instruments",
    (
        "ticker",
        "type",
        "name",
        "shortName",
        "isin",
        "currencyCode",
        "workingScheduleId",
        "maxOpenQuantity",
        "extendedHours",
        "addedOn",
    ),
)


def normalise_instruments(records: Sequence[Any], *, seen_at: datetime | str) -> Normalised:
    """Instrument records -> ``instruments``, every row first and last seen at ``seen_at``."""
    seen = to_utc(seen_at)
    constants = {"first_seen_at": seen, "last_seen_at": seen, "is_listed": True}
    return normalise_table(records, INSTRUMENTS, constants)


def normalise(records: Sequence[Any], *, account_id: int, at: datetime) -> Normalised:
    """The resource's normaliser: the instrument list seen at ``at`` (shared by accounts)."""
    return normalise_instruments(records, seen_at=at)
