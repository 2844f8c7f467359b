"""Account summaries: one snapshot of cash and investment totals per run."""

from __future__ import annotations

from collections.abc import Mapping as AnyMapping
from datetime import datetime
from typing import Any

from transforms.frames import Normalised
from transforms.mapping import Mapping, normalise_table
from transforms.values import parse_int, parse_text, to_utc, utc_date

ACCOUNT_SUMMARIES = Mapping(
    "account_summaries",
    (
        ("id", "account_id"),
        "currency",
        "totalValue",
        "cash.availableToTrade",
        "cash.inPies",
        "cash.reservedForOrders",
        "investments.currentValue",
        "investments.realizedProfitLoss",
        "investments.totalCost",
        "investments.unrealizedProfitLoss",
    ),
)


def account_identity(record: AnyMapping[str, Any]) -> tuple[int, str]:
    """The account id and primary currency of an account summary; ValueError if absent."""
    if not isinstance(record, AnyMapping):
        raise ValueError("account summary is not an object")
    account_id = parse_int(record.get("id"))
    currency = parse_text(record.get("currency"))
    if account_id is None or not currency:
        raise ValueError("account summary lacks id or currency")
    return account_id, currency


def normalise_account_summary(
    record: AnyMapping[str, Any], *, snapshot_at: datetime | str
) -> Normalised:
    """One account summary -> one ``account_summaries`` row taken at ``snapshot_at``."""
    at = to_utc(snapshot_at)
    return normalise_table(
        [record], ACCOUNT_SUMMARIES, {"snapshot_at": at, "snapshot_date": utc_date(at)}
    )


def normalise(record: AnyMapping[str, Any], *, account_id: int, at: datetime) -> Normalised:
    """The resource's normaliser: the account summary answer seen at ``at``."""
    return normalise_account_summary(record, snapshot_at=at)
