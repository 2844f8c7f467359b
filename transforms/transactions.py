"""Transactions: deposits, withdrawals, fees and transfers from the history endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transforms.frames import Normalised
from transforms.mapping import Mapping, normalise_table
from transforms.values import parse_int

TRANSACTIONS = Mapping("transactions", ("reference", "type", "dateTime", "amount", "currency"))


def normalise_transactions(records: Sequence[Any], *, account_id: int) -> Normalised:
    """Transaction history items -> ``transactions``, first occurrence of a reference wins."""
    return normalise_table(records, TRANSACTIONS, {"account_id": parse_int(account_id)})
