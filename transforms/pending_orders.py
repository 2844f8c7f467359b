"""Pending orders: the orders still open when a run looked, one snapshot per run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from transforms.frames import Normalised
from transforms.mapping import Mapping, normalise_table
from transforms.orders import ORDER_FIELDS
from transforms.values import parse_int, to_utc, utc_date

PENDING_ORDERS = Mapping(
    "pending_orders",
    (("id", "order_id"), (("ticker", "instrument.ticker"), "ticker"), *ORDER_FIELDS),
)


def normalise_pending_orders(
    records: Sequence[Any], *, account_id: int, snapshot_at: datetime | str
) -> Normalised:
    """Open orders -> ``pending_orders`` as seen at ``snapshot_at``."""
    at = to_utc(snapshot_at)
    constants = {
        "account_id": parse_int(account_id),
        "snapshot_at": at,
        "snapshot_date": utc_date(at),
    }
    return normalise_table(records, PENDING_ORDERS, constants)


def normalise(records: Sequence[Any], *, account_id: int, at: datetime) -> Normalised:
    """The resource's normaliser: the open orders seen at ``at``."""
    return normalise_pending_orders(records, account_id=account_id, snapshot_at=at)
