"""Each resource's normaliser: decoded pages to the frames of its tables."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from extractors.resources import Kind, Resource
from transforms.account import normalise_account_summary
from transforms.activity import normalise_reports
from transforms.dividends import normalise_dividends
from transforms.exchanges import normalise_exchanges
from transforms.frames import Normalised
from transforms.instruments import normalise_instruments
from transforms.orders import normalise_orders
from transforms.pending_orders import normalise_pending_orders
from transforms.positions import normalise_positions
from transforms.transactions import normalise_transactions

_NORMALISERS: dict[str, Callable[[Any, int, datetime], Normalised]] = {
    "account_summary": lambda data, acc, at: normalise_account_summary(data, snapshot_at=at),
    "positions": lambda data, acc, at: normalise_positions(data, account_id=acc, snapshot_at=at),
    "pending_orders": lambda data, acc, at: normalise_pending_orders(
        data, account_id=acc, snapshot_at=at
    ),
    "instruments": lambda data, acc, at: normalise_instruments(data, seen_at=at),
    "exchanges": lambda data, acc, at: normalise_exchanges(data),
    "dividends": lambda items, acc, at: normalise_dividends(items, account_id=acc),
    "orders": lambda items, acc, at: normalise_orders(items, account_id=acc),
    "transactions": lambda items, acc, at: normalise_transactions(items, account_id=acc),
    "reports": lambda files, acc, at: normalise_reports(
        [(f.source, f.body) for f in files], account_id=acc
    ),
}


def page_records(resource: Resource, datas: list[Any]) -> Any:
    """The records of a resource's decoded pages: items of every page, or the single answer."""
    if resource.kind == Kind.HISTORY:
        return [item for data in datas for item in data["items"]]
    if resource.kind == Kind.REPORTS:
        return datas
    return datas[0]


def normalise_pages(
    resource: Resource, datas: list[Any], account_id: int, at: datetime
) -> Normalised:
    """Normalise the decoded pages of ``resource`` for ``account_id`` as seen at ``at``."""
    return _NORMALISERS[resource.name](page_records(resource, datas), account_id, at)
