"""What one publish of a per-account table writes: its Delta predicate, and the held accounts.

A pending partition is the JSON of its text values (or ``*`` for the whole table); the
predicate is built from parsed values only, so no pending text reaches the SQL as is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

from transforms.catalogue import Table

WHOLE_TABLE = "*"
# past this many pending partitions of one table, its accounts are rewritten whole: one
# short predicate instead of a long one
MAX_PARTITION_TERMS = 64


def _literal(table: Table, column: str, value: str) -> str:
    """A predicate literal of a partition value, parsed so no text reaches the SQL as is."""
    kind = table.column(column).type
    if kind == "bigint":
        return str(int(value))
    if kind == "date":
        return f"'{date.fromisoformat(value).isoformat()}'"
    raise ValueError(f"{table.name}.{column}: no predicate for a {kind} partition")


def scope_predicate(
    table: Table, partitions: list[str], accounts: Iterable[int], alias: str = ""
) -> str:
    """The Delta predicate for what one publish replaces.

    ``partitions`` are the pending partitions (JSON of text values, or ``*``). A whole
    table (or an unpartitioned one, or too many partitions) is scoped to ``accounts``.
    ``alias`` (``t.``) qualifies the columns, for a merge.
    """
    whole = WHOLE_TABLE in partitions or not table.partition_by
    if whole or len(partitions) > MAX_PARTITION_TERMS:
        ids = set(accounts) if whole else {int(json.loads(p)["account_id"]) for p in partitions}
        if not ids:
            return "FALSE"
        return f"{alias}account_id IN ({', '.join(str(int(i)) for i in sorted(ids))})"
    terms = []
    for partition in partitions:
        values = json.loads(partition)
        parts = [f"{alias}{c} = {_literal(table, c, values[c])}" for c in table.partition_by]
        terms.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(terms)


def scope_accounts(table: Table, partitions: list[str], held: Iterable[int]) -> set[int]:
    """The held accounts whose rows one publish of ``partitions`` writes."""
    held = {int(a) for a in held}
    if WHOLE_TABLE in partitions or "account_id" not in table.partition_by:
        return held
    return {int(json.loads(p)["account_id"]) for p in partitions} & held


def held_partitions(table: Table, partitions: list[str], held: Iterable[int]) -> list[str]:
    """The pending ``partitions`` of accounts in ``held``: the only ones a worker writes."""
    held = set(held)
    if not held:
        return []
    if "account_id" not in table.partition_by:
        return partitions  # scoped to the held accounts by the predicate
    return [p for p in partitions if p == WHOLE_TABLE or int(json.loads(p)["account_id"]) in held]


def duckdb_scope(predicate: str) -> str:
    """The same scope for DuckDB: dates compared as dates."""
    return predicate.replace("snapshot_date = '", "snapshot_date = DATE '")
