"""Several accounts' rows of one resource merged in one set of statements, counted per account.

The rows of each account are staged side by side and merged by the same statements as one
account's (``warehouse.merge``); the counts come from the same queries grouped by account,
and an account's Parquet partitions are pending only when its rows changed. Keys and
snapshot groups of these tables begin with the account, so no account's rows can meet
another's: the outcome is that of merging the accounts one after another.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from transforms.catalogue import LOAD_METADATA, TABLES, Table, TableKind
from warehouse import merge as merging
from warehouse import parquet
from warehouse.bookkeeping import GLOBAL_ACCOUNT, LOAD_STATE
from warehouse.merge import Load, MergeCounts, q

ACCOUNT = "account_id"


@dataclass(frozen=True)
class Ready:
    """One account's resource ready to merge: its rows per table (one per key unless
    ``deduplicated`` is False), the rows read of each, and the cursor to store."""

    load: Load
    tables: Mapping[str, pa.Table]
    reads: Mapping[str, int]
    cursor: dict | None
    deduplicated: bool = True


def ready_whole(load: Load, tables: Mapping[str, pa.Table], cursor: dict | None) -> Ready:
    """A resource read whole, as ``Warehouse.merge_resource`` takes it: every row is read,
    the first of a key wins (at the merge)."""
    unique = all(merging.unique_keys(d, TABLES[n].key) for n, d in tables.items())
    reads = {name: data.num_rows for name, data in tables.items()}
    return Ready(load, tables, reads, cursor, deduplicated=unique)


def groupable(ready: Ready) -> bool:
    """Whether ``ready`` may merge beside other accounts: its own rows of history or
    snapshot tables, whose keys and partitions begin with the account."""
    account = ready.load.account_id
    if account == GLOBAL_ACCOUNT:
        return False
    for name, data in ready.tables.items():
        table = TABLES[name]
        if table.kind not in (TableKind.HISTORY, TableKind.SNAPSHOT):
            return False
        if table.key[0] != ACCOUNT or table.partition_by[:1] != (ACCOUNT,):
            return False
        if ACCOUNT not in data.column_names:
            return False  # merged alone, which names what is missing
        same = pc.all(pc.equal(data.column(ACCOUNT), account), skip_nulls=False).as_py()
        if data.num_rows and same is not True:
            return False
    return True


def merge_group(con: duckdb.DuckDBPyConnection, group: Sequence[Ready]) -> list[dict]:
    """Merge every account's tables, store their cursors and pending Parquet work, in the
    caller's transaction; returns each account's counts per table, in ``group``'s order.

    Every member must be :func:`groupable`, of the same tables and of its own account.
    """
    counts: list[dict[str, MergeCounts]] = [{} for _ in group]
    dedupe = not all(r.deduplicated for r in group)
    pending = set()
    for name in group[0].tables:
        rows = [(r.load, r.tables[name], r.reads[name]) for r in group]
        merged = merge_accounts(con, TABLES[name], rows, dedupe=dedupe)
        for mine, ready in zip(counts, group, strict=True):
            mine[name], partitions = merged[ready.load.account_id]
            pending |= {(name, p) for p in partitions}
    store_cursors(con, [(r.load, r.cursor) for r in group])
    parquet.add_pending(con, pending)
    return counts


def merge_accounts(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    rows: Sequence[tuple[Load, pa.Table, int]],
    *,
    dedupe: bool = True,
) -> dict[int, tuple[MergeCounts, set[str]]]:
    """Merge the rows of several accounts, each with its rows read, into ``table`` at once
    (see ``merge_staged``); returns per account its counts and the partitions to publish.

    With ``dedupe`` a key staged twice keeps its first row, as one account's merge does.
    """
    merging.create_accumulator(con, table)
    for chunk, (load, data, _) in enumerate(rows):
        merging.stage_chunk(con, table, data, chunk, load)
    if dedupe:
        merging.dedupe_staged(con, table)
    source = merging.accumulator(table)
    counted = con.execute(merging.upsert_counts(table, LOAD_METADATA, source=source, per=ACCOUNT))
    changes = {account: (new, changed) for account, new, changed, _ in counted.fetchall()}
    group = merging.snapshot_group(table)
    if group:  # a snapshot replaced whole: its rows no longer there are removed, per account
        where = merging.unmatched(table, group, source)
        sql = f"SELECT t.{q(ACCOUNT)}, count(*) FROM {q(table.name)} t WHERE {where} GROUP BY ALL"
        for account, removed in con.execute(sql).fetchall():
            new, changed = changes.get(account, (0, 0))
            changes[account] = (new, changed + removed)
    read = sum(read for _, _, read in rows)
    _, partitions = merging.merge_staged(con, table, read, rows[0][0])
    merged = {}
    for load, _, read in rows:
        new, changed = changes.get(load.account_id, (0, 0))
        mine = {p for p in partitions if json.loads(p)[ACCOUNT] == str(load.account_id)}
        merged[load.account_id] = (
            MergeCounts(read, new, changed),
            mine if new + changed else set(),
        )
    return merged


def store_cursors(
    con: duckdb.DuckDBPyConnection, cursors: Sequence[tuple[Load, dict | None]]
) -> None:
    """Store each load's cursor, time and run as its resource's state, in one statement."""
    rows = [
        [
            load.account_id,
            load.resource,
            None if cursor is None else json.dumps(cursor, sort_keys=True),
            load.loaded_at,
            load.run_id,
        ]
        for load, cursor in cursors
    ]
    values = ", ".join("(?, ?, ?, ?, ?)" for _ in rows)
    con.execute(
        f"INSERT OR REPLACE INTO {q(LOAD_STATE.name)} VALUES {values}",
        [v for row in rows for v in row],
    )
