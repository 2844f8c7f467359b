"""Positions: one snapshot of open positions per run, with prices also in the major unit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from transforms.frames import Normalised
from transforms.mapping import Columns, Mapping, build_frame, read_columns, unknown_fields
from transforms.values import EXACT, parse_decimal, parse_int, to_utc, utc_date

POSITIONS = Mapping(
    "positions",
    (
        (("instrument.ticker", "ticker"), "ticker"),
        "instrument.name",
        "instrument.isin",
        "instrument.currency",
        "quantity",
        "quantityAvailableForTrading",
        "quantityInPies",
        "averagePricePaid",
        "currentPrice",
        "createdAt",
        "walletImpact.currency",
        "walletImpact.currentValue",
        "walletImpact.fxImpact",
        "walletImpact.totalCost",
        "walletImpact.unrealizedProfitLoss",
    ),
)

# currencies quoted in a minor unit: (major currency, power of ten to divide by)
MINOR_UNITS: dict[str, tuple[str, int]] = {"GBX": ("GBP", 2), "GBp": ("GBP", 2)}

# price column -> its major-unit column
MAJOR_PRICES = {
    "average_price_paid": "average_price_paid_major",
    "current_price": "current_price_major",
}


def normalise_positions(
    records: Sequence[Any], *, account_id: int, snapshot_at: datetime | str
) -> Normalised:
    """Open positions -> ``positions`` at ``snapshot_at``, prices as sent and in major units."""
    at = to_utc(snapshot_at)
    columns = read_columns(records, POSITIONS)
    add_major_prices(columns)
    constants = {
        "account_id": parse_int(account_id),
        "snapshot_at": at,
        "snapshot_date": utc_date(at),
    }
    frame, problems, _ = build_frame(columns, POSITIONS, constants)
    unknown = unknown_fields(records, POSITIONS.known_paths())
    return Normalised({"positions": frame}, unknown, problems)


def add_major_prices(columns: Columns) -> None:
    """Fill the major-unit currency and prices: GBX/GBp divided by 100 exactly, others copied."""
    currencies = columns.values["instrument_currency"]
    units = [MINOR_UNITS.get(c) if c is not None else None for c in currencies]
    columns.values["price_currency_major"] = np.array(
        [u[0] if u else c for u, c in zip(units, currencies, strict=True)], dtype=object
    )
    for source, target in MAJOR_PRICES.items():
        prices = columns.values[source]
        major = np.empty(len(prices), dtype=object)
        errors: dict[int, str] = {}
        for i, (price, unit) in enumerate(zip(prices, units, strict=True)):
            major[i] = price
            if unit and price is not None:
                try:
                    major[i] = _to_major(price, unit[1])
                except ValueError as exc:
                    major[i] = None
                    errors[i] = str(exc)
        columns.fail(errors, target)
        columns.values[target] = major


def _to_major(price: Decimal, power: int) -> Decimal:
    """A minor-unit price shifted ``power`` decimal places, refused if it no longer fits."""
    return parse_decimal(price.scaleb(-power, context=EXACT))


def normalise(records: Sequence[Any], *, account_id: int, at: datetime) -> Normalised:
    """The resource's normaliser: the positions answer seen at ``at``."""
    return normalise_positions(records, account_id=account_id, snapshot_at=at)
