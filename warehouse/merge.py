"""Merging one table's incoming rows into DuckDB according to the table's kind.

Every function here runs inside the caller's transaction and never commits.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple

import duckdb
import pyarrow as pa

from transforms.catalogue import LOAD_METADATA, TABLES, Table

STAGE = "__t212_stage"
_ARROW_VIEW = "__t212_incoming"
_ORDINAL = "__t212_ordinal"
_SNAPSHOT_GROUP = ("account_id", "snapshot_at")
_LISTING = ("first_seen_at", "last_seen_at", "is_listed")


class MergeCounts(NamedTuple):
    """Rows read from the input, inserted as new keys, and updated because a value changed.

    For current lists, ``updated`` also counts rows removed from the list
    (deleted, or marked ``is_listed = false`` for instruments).
    """

    read: int
    inserted: int
    updated: int


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _match(left: str, right: str, columns: tuple[str, ...] | list[str]) -> str:
    return " AND ".join(f"{left}.{q(c)} = {right}.{q(c)}" for c in columns)


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> int:
    return int(con.execute(sql, params or []).fetchall()[0][0])


def _stage(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    incoming: pa.Table,
    loaded_at: datetime,
    run_id: str,
    seen: Seen | None = None,
) -> int:
    """Load ``incoming`` into a temporary stage, typed as declared and one row per key.

    When a key occurs twice (overlapping pages) the first occurrence wins, also across
    the chunks of one batch (``seen``). The load metadata is this merge's, whatever the
    input carried. Returns the rows read (those not already taken by an earlier chunk).
    """
    missing = [c for c in table.column_names if c not in incoming.column_names]
    if missing:
        raise ValueError(f"{table.name}: input lacks declared columns {missing}")
    typed = incoming.select(table.column_names).cast(table.arrow_schema())
    for column in table.partition_by:
        if typed.column(column).null_count:
            raise ValueError(f"{table.name}: partition column {column} has nulls")
    n = typed.num_rows
    for name, value in zip(LOAD_METADATA, (loaded_at, run_id), strict=True):
        column = table.column(name)
        typed = typed.set_column(
            typed.schema.get_field_index(name),
            name,
            pa.repeat(pa.scalar(value, column.arrow_type), n),
        )
    typed = typed.append_column(_ORDINAL, pa.array(range(n), pa.int64()))
    cols = ", ".join(q(c) for c in table.column_names)
    keys = ", ".join(q(k) for k in table.key)
    con.execute(f"DROP TABLE IF EXISTS {q(STAGE)}")
    # A relation query, not register(): a registered table stays alive until the commit.
    con.from_arrow(typed).query(
        _ARROW_VIEW,
        f"CREATE TEMP TABLE {q(STAGE)} AS SELECT {cols} FROM {q(_ARROW_VIEW)} "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {q(_ORDINAL)}) = 1",
    )
    dropped = seen.take(con, table) if seen is not None else 0
    return n - dropped


class Seen:
    """Keys merged by earlier chunks of one batch, so later chunks cannot override them.

    ``owners`` maps a child table to the table whose keys it belongs to (a fill's taxes
    come only from the kept occurrence of the fill). One temporary table per table holds
    the keys with the chunk that took them.
    """

    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.owners = owners or {}
        self.chunk = 0
        self._created: set[str] = set()

    def _ensure(self, con: duckdb.DuckDBPyConnection, table: Table) -> str:
        name = f"__t212_seen_{table.name}"
        if name not in self._created:
            cols = ", ".join(q(k) for k in table.key)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {q(name)} AS SELECT {cols}, 0 AS __chunk "
                f"FROM {q(table.name)} LIMIT 0"
            )
            self._created.add(name)
        return name

    def take(self, con: duckdb.DuckDBPyConnection, table: Table) -> int:
        """Drop staged rows whose key an earlier chunk took, record the rest; returns dropped."""
        dropped = 0
        owner = TABLES[self.owners[table.name]] if table.name in self.owners else None
        for source in (table, owner):
            if source is None or self.chunk == 0:
                continue
            name = self._ensure(con, source)
            # DuckDB answers a DELETE with the number of rows it removed.
            dropped += _count(
                con,
                f"DELETE FROM {q(STAGE)} s WHERE EXISTS (SELECT 1 FROM {q(name)} x "
                f"WHERE x.__chunk < ? AND {_match('x', 's', source.key)})",
                [self.chunk],
            )
        name = self._ensure(con, table)
        cols = ", ".join(q(k) for k in table.key)
        con.execute(f"INSERT INTO {q(name)} SELECT {cols}, ? FROM {q(STAGE)}", [self.chunk])
        return dropped


def _partitions(con: duckdb.DuckDBPyConnection, table: Table, match_cols: tuple[str, ...]) -> set:
    """Partitions (as JSON) touched by the stage: its own and those of the rows it matches."""
    if not table.partition_by:
        return {"{}"}
    cols = ", ".join(f"CAST({q(c)} AS VARCHAR)" for c in table.partition_by)
    sql = f"SELECT DISTINCT {cols} FROM {q(STAGE)}"
    if not set(table.partition_by) <= set(match_cols):
        sql += (
            f" UNION SELECT DISTINCT {cols} FROM {q(table.name)} t WHERE EXISTS "
            f"(SELECT 1 FROM {q(STAGE)} s WHERE {_match('t', 's', match_cols)})"
        )
    return {partition_json(table, row) for row in con.execute(sql).fetchall()}


def partition_json(table: Table, values: tuple) -> str:
    """The canonical JSON text naming one partition of ``table``."""
    return json.dumps(dict(zip(table.partition_by, values, strict=True)))


def _upsert(
    con: duckdb.DuckDBPyConnection, table: Table, ignore: tuple[str, ...], touch: tuple[str, ...]
) -> tuple[int, int, int]:
    """Insert new keys, update rows whose compared values changed; returns counts."""
    target, stage = q(table.name), q(STAGE)
    match = _match("t", "s", table.key)
    compared = [c for c in table.value_columns if c not in ignore]
    changed = " OR ".join(f"t.{q(c)} IS DISTINCT FROM s.{q(c)}" for c in compared) or "FALSE"
    new_rows = f"FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})"
    # one join counts all three: keys are never null, so a missing match means a new row
    present = f"t.{q(table.key[0])} IS NOT NULL"
    inserted, updated, matched = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT ({present})), "
        f"count(*) FILTER (WHERE {present} AND ({changed})), count(*) FILTER (WHERE {present}) "
        f"FROM {stage} s LEFT JOIN {target} t ON {match}"
    ).fetchall()[0]
    if updated:
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in table.value_columns)
        con.execute(f"UPDATE {target} AS t SET {sets} FROM {stage} s WHERE {match} AND ({changed})")
    if touch and matched:
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in touch)
        con.execute(f"UPDATE {target} AS t SET {sets} FROM {stage} s WHERE {match}")
    if inserted:
        cols = ", ".join(q(c) for c in table.column_names)
        con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} {new_rows}")
    touched = matched if touch else 0
    return inserted, updated, touched


def _delete_unmatched(con: duckdb.DuckDBPyConnection, table: Table, group: tuple[str, ...]) -> int:
    """Delete target rows in the stage's groups whose key is not staged (all rows if no group)."""
    target, stage = q(table.name), q(STAGE)
    where = f"NOT EXISTS (SELECT 1 FROM {stage} s WHERE {_match('t', 's', table.key)})"
    if group:
        where += f" AND EXISTS (SELECT 1 FROM {stage} s WHERE {_match('t', 's', group)})"
    deleted = _count(con, f"SELECT count(*) FROM {target} t WHERE {where}")
    if deleted:
        con.execute(f"DELETE FROM {target} AS t WHERE {where}")
    return deleted


def _merge_listing(
    con: duckdb.DuckDBPyConnection, table: Table, loaded_at: datetime, run_id: str
) -> tuple[int, int, int]:
    """Merge a full list that keeps first/last seen times and marks absent rows unlisted."""
    target, stage = q(table.name), q(STAGE)
    match = _match("t", "s", table.key)
    con.execute(
        f'UPDATE {stage} SET "first_seen_at" = ?, "last_seen_at" = ?, "is_listed" = true',
        [loaded_at, loaded_at],
    )
    con.execute(
        f'UPDATE {stage} AS s SET "first_seen_at" = t."first_seen_at" FROM {target} t WHERE {match}'
    )
    inserted, updated, touched = _upsert(
        con,
        table,
        ignore=(*LOAD_METADATA, "first_seen_at", "last_seen_at"),
        touch=("last_seen_at",),
    )
    absent = (
        f't."is_listed" IS DISTINCT FROM false '
        f"AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match})"
    )
    unlisted = _count(con, f"SELECT count(*) FROM {target} t WHERE {absent}")
    if unlisted:
        con.execute(
            f'UPDATE {target} AS t SET "is_listed" = false, "_loaded_at" = ?, '
            f'"_run_id" = ? WHERE {absent}',
            [loaded_at, run_id],
        )
    return inserted, updated + unlisted, touched


def merge_table(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    incoming: pa.Table,
    *,
    loaded_at: datetime,
    run_id: str,
    seen: Seen | None = None,
) -> tuple[MergeCounts, set[str]]:
    """Merge ``incoming`` into ``table`` by its kind; returns counts and partitions to publish.

    history: upsert on the key. snapshot: upsert, replacing each staged
    (account, snapshot) group entirely. current: the input is the whole list;
    tables with listing columns keep history of what was seen, others are replaced.
    """
    read = _stage(con, table, incoming, loaded_at, run_id, seen)
    deleted = touched = 0
    group = tuple(c for c in table.key if c in _SNAPSHOT_GROUP)
    if table.kind == "snapshot" and group != table.key:
        partitions = _partitions(con, table, group)
        deleted = _delete_unmatched(con, table, group)
        inserted, updated, touched = _upsert(con, table, LOAD_METADATA, ())
    elif table.kind == "current" and set(_LISTING) <= set(table.column_names):
        partitions = _partitions(con, table, table.key)
        inserted, updated, touched = _merge_listing(con, table, loaded_at, run_id)
    elif table.kind == "current":
        partitions = _partitions(con, table, table.key)
        deleted = _delete_unmatched(con, table, ())
        inserted, updated, touched = _upsert(con, table, LOAD_METADATA, ())
    elif table.kind in ("history", "snapshot"):
        partitions = _partitions(con, table, table.key)
        inserted, updated, touched = _upsert(con, table, LOAD_METADATA, ())
    else:
        raise ValueError(f"{table.name}: cannot merge a table of kind {table.kind!r}")
    # On failure the caller's rollback discards the stage; dropping it here
    # would only hide the original error behind "transaction aborted".
    con.execute(f"DROP TABLE {q(STAGE)}")
    written = inserted + updated + deleted + touched
    return MergeCounts(read, inserted, updated + deleted), (partitions if written else set())
