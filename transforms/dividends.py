"""Dividends: paid dividends from the history endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transforms.frames import Normalised
from transforms.mapping import Mapping, normalise_table
from transforms.values import parse_int

DIVIDENDS = Mapping(
    "dividends",
    (
        "reference",
        (("ticker", "instrument.ticker"), "ticker"),
        "type",
        "paidOn",
        "quantity",
        "amount",
        "amountInEuro",
        "currency",
        "grossAmountPerShare",
        "tickerCurrency",
        "instrument.name",
        "instrument.isin",
        "instrument.currency",
    ),
)


def normalise_dividends(records: Sequence[Any], *, account_id: int) -> Normalised:
    """Dividend history items -> ``dividends``, first occurrence of a reference wins."""
    return normalise_table(records, DIVIDENDS, {"account_id": parse_int(account_id)})
