"""Transactions: deposits, withdrawals, fees and transfers from the history endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from transforms.columnar import normalise_table_pages
from transforms.frames import Normalised
from transforms.mapping import Mapping, normalise_table
from transforms.values import parse_int

TRANSACTIONS = Mapping("transactions", ("reference", "type", "dateTime", "amount", "currency"))


def normalise_transactions(records: Sequence[Any], *, account_id: int) -> Normalised:
    """Transaction history items -> ``transactions``, first occurrence of a reference wins."""
    return normalise_table(records, TRANSACTIONS, {"account_id": parse_int(account_id)})


def normalise(records: Sequence[Any], *, account_id: int, at: datetime) -> Normalised:
    """The resource's normaliser: the items of every page read."""
    return normalise_transactions(records, account_id=account_id)


def normalise_pages(
    bodies: Sequence[bytes], *, account_id: int
) -> tuple[Normalised, pa.ChunkedArray]:
    """The columnar reader: clean pages a column at a time (``NotColumnar`` otherwise)."""
    return normalise_table_pages(bodies, TRANSACTIONS, {"account_id": parse_int(account_id)})
