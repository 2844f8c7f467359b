"""What a lake commit sends of an account's snapshots and history: what changed since the last.

After each commit of a merged table, the worker notes per account (setting
``lake_sent:<table>:<account>``) the newest ``_loaded_at`` of the account's rows in its
database, a fingerprint of the rows stamped with it, and how many rows the lake then
holds of the account. A row changes only with a newer stamp (a run stamps every row it
writes with its start), so the next commit sends only the rows stamped at or after the
noted one. They are appended, with no merge reading the account's files, when the note
proves none is in the lake yet: the lake still holds the noted count (only the lease
holder writes an account), the rows stamped up to the note are as many, and those
stamped with it are unchanged (so every one of them was sent, and nothing else was).
Otherwise they are merged; with no usable note (a lake someone else changed, a repair
of the whole table) every row in scope is merged, as before, or appended when the lake
holds none of the account's rows yet (its first commit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from transforms.catalogue import Table
from warehouse.bookkeeping import SETTINGS
from warehouse.merge import q

SENT = "lake_sent:"  # settings named <this><table>:<account>


@dataclass(frozen=True)
class Increment:
    """The rows one commit sends (a DuckDB condition), and whether appending them is proven."""

    where: str
    append: bool


def _fingerprint(con: duckdb.DuckDBPyConnection, table: Table, account: int, stamp: int) -> list:
    """How many rows of ``account`` are stamped ``stamp``, and a hash of all of them."""
    row = con.execute(
        f"SELECT count(*), CAST(bit_xor(hash(t)) AS VARCHAR) FROM {q(table.name)} t "
        'WHERE "account_id" = ? AND epoch_us("_loaded_at") = ?',
        [account, stamp],
    ).fetchall()[0]
    return [int(row[0]), row[1]]


def _notes(con: duckdb.DuckDBPyConnection, name: str) -> dict[int, dict]:
    rows = con.execute(
        f"SELECT name, value FROM {q(SETTINGS.name)} WHERE starts_with(name, ?)",
        [f"{SENT}{name}:"],
    ).fetchall()
    return {int(n.rsplit(":", 1)[1]): json.loads(v) for n, v in rows}


def increment(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    accounts: Iterable[int],
    lake_rows: dict[int, int],
    *,
    whole: bool,
) -> Increment:
    """The rows of ``accounts`` a commit sends (within its scope), given the rows the lake
    holds per account; ``whole`` (a repair of the whole table) sends every row."""
    notes = {} if whole else _notes(con, table.name)
    terms, append = [], True
    for account in sorted({int(a) for a in accounts}):
        note = notes.get(account)
        if note is None or lake_rows.get(account, 0) != note["rows"]:
            terms.append(f'"account_id" = {account}')
            # none of the account's rows in the lake (its first commit): none can be there twice
            append = append and not lake_rows.get(account, 0)
            continue
        stamp = note["stamp"]
        below = con.execute(
            f'SELECT count(*) FROM {q(table.name)} WHERE "account_id" = ? '
            'AND epoch_us("_loaded_at") <= ?',
            [account, stamp],
        ).fetchall()[0][0]
        # the rows stamped with the note unchanged: every later change is stamped later
        settled = _fingerprint(con, table, account, stamp) == note["same"]
        newer = ">" if settled else ">="
        append = append and settled and below == note["rows"]
        terms.append(f'("account_id" = {account} AND epoch_us("_loaded_at") {newer} {int(stamp)})')
    return Increment(" OR ".join(terms) or "FALSE", append and bool(terms))


def record_sent(
    con: duckdb.DuckDBPyConnection, table: Table, accounts: Iterable[int], lake_rows: dict
) -> None:
    """After a commit that sent every changed row of ``accounts``: note what the lake holds."""
    for account in sorted({int(a) for a in accounts}):
        stamp = con.execute(
            f'SELECT epoch_us(max("_loaded_at")) FROM {q(table.name)} WHERE "account_id" = ?',
            [account],
        ).fetchall()[0][0]
        name = f"{SENT}{table.name}:{account}"
        if stamp is None:  # no rows: nothing to compare with, the next commit merges
            con.execute(f"DELETE FROM {q(SETTINGS.name)} WHERE name = ?", [name])
            continue
        note = {
            "stamp": int(stamp),  # microseconds since the epoch, UTC
            "same": _fingerprint(con, table, account, stamp),
            "rows": int(lake_rows.get(account, 0)),
        }
        con.execute(
            f"INSERT OR REPLACE INTO {q(SETTINGS.name)} VALUES (?, ?)", [name, json.dumps(note)]
        )
