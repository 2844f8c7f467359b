"""Merging one table's incoming rows into DuckDB according to the table's kind.

Every function here runs inside the caller's transaction and never commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import duckdb
import pyarrow as pa

from transforms.catalogue import LOAD_METADATA, Table, TableKind

STAGE = "__t212_stage"
_ARROW_VIEW = "__t212_incoming"
_ORDINAL = "__t212_ordinal"
_CHUNK = "__t212_chunk"
_REPEATS = "__t212_repeats"
_WHOLE = "__t212_stage_whole"
# Keys merged by one join at most: a join of a million wide rows does not fit DuckDB's
# memory limit (measured: the rebuild of a million orders ran out at 256 MB).
SLICE_ROWS = 100_000
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


@dataclass(frozen=True)
class Load:
    """One resource's rows of one account (the global one for shared lists) as one run
    loads them; the run's id and time are stamped on every row."""

    resource: str
    account_id: int
    run_id: str
    loaded_at: datetime


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _match(left: str, right: str, columns: tuple[str, ...] | list[str]) -> str:
    return " AND ".join(f"{left}.{q(c)} = {right}.{q(c)}" for c in columns)


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> int:
    return int(con.execute(sql, params or []).fetchall()[0][0])


def accumulator(table: Table) -> str:
    """The temporary table collecting one table's incoming chunks until the merge."""
    return f"__t212_chunks_{table.name}"


def create_accumulator(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Create (or empty) the temporary table :func:`stage_chunk` appends ``table``'s rows to."""
    cols = ", ".join(f"{q(c.name)} {c.duckdb_type}" for c in table.columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {q(accumulator(table))} "
        f"({cols}, {_CHUNK} INTEGER, {_ORDINAL} BIGINT)"
    )


def stage_chunk(
    con: duckdb.DuckDBPyConnection, table: Table, incoming: pa.Table, chunk: int, load: Load
) -> None:
    """Append one chunk of ``incoming`` rows, typed as declared, to the table's accumulator.

    Appending costs the chunk's size only, whatever the table holds; the accumulator is a
    temporary table (see :func:`create_accumulator`), which DuckDB spills to disk past its
    memory limit. The load metadata is this merge's, whatever the input carried.
    """
    missing = [c for c in table.column_names if c not in incoming.column_names]
    if missing:
        raise ValueError(f"{table.name}: input lacks declared columns {missing}")
    typed = incoming.select(table.column_names).cast(table.arrow_schema())
    for column in table.partition_by:
        if typed.column(column).null_count:
            raise ValueError(f"{table.name}: partition column {column} has nulls")
    n = typed.num_rows
    for name, value in zip(LOAD_METADATA, (load.loaded_at, load.run_id), strict=True):
        column = table.column(name)
        typed = typed.set_column(
            typed.schema.get_field_index(name),
            name,
            pa.repeat(pa.scalar(value, column.arrow_type), n),
        )
    typed = typed.append_column(_ORDINAL, pa.array(range(n), pa.int64()))
    target = q(accumulator(table))
    cols = ", ".join(q(c) for c in table.column_names)
    # A relation query, not register(): a registered table stays alive until the commit.
    con.from_arrow(typed).query(
        _ARROW_VIEW,
        f"INSERT INTO {target} SELECT {cols}, {int(chunk)}, {_ORDINAL} FROM {_ARROW_VIEW}",
    )


def _drop_repeats(
    con: duckdb.DuckDBPyConnection, table: Table, keys: tuple[str, ...], source: Table, by: str
) -> None:
    """Delete ``table``'s staged rows whose ``keys`` occur at a smaller ``by`` in ``source``.

    Only keys that occur more than once are collected (a hash aggregate, which spills),
    so when nothing repeats no join is made at all.
    """
    cols = ", ".join(q(k) for k in keys)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_REPEATS} AS SELECT {cols}, min({by}) AS __first "
        f"FROM {q(accumulator(source))} GROUP BY ALL HAVING min({by}) < max({by})"
    )
    con.execute(
        f"DELETE FROM {q(accumulator(table))} AS a USING {_REPEATS} r "
        f"WHERE {_match('r', 'a', keys)} AND a.{by} > r.__first"
    )
    con.execute(f"DROP TABLE {_REPEATS}")


def unique_keys(data: pa.Table, keys: tuple[str, ...]) -> bool:
    """Whether no two rows of ``data`` share ``keys`` (counted in Arrow, not in DuckDB)."""
    return data.select(list(keys)).group_by(list(keys)).aggregate([]).num_rows == data.num_rows


def dedupe_staged(
    con: duckdb.DuckDBPyConnection, table: Table, *, chunks: int = 1, owner: Table | None = None
) -> int:
    """Leave one staged row per key and return the rows read.

    A key's first chunk wins over later chunks, and within a chunk its first row; with an
    ``owner`` (a fill's taxes) rows come only from the chunk that first held the owner's
    key, so the owner's accumulator must not be deduplicated yet. The rows read are those
    of the winning chunks, repeats within one included, as merging each chunk in turn
    counted them.
    """
    if chunks > 1:
        if owner is not None:
            _drop_repeats(con, table, owner.key, owner, _CHUNK)
        _drop_repeats(con, table, table.key, table, _CHUNK)
    read = _count(con, f"SELECT count(*) FROM {q(accumulator(table))}")
    _drop_repeats(con, table, table.key, table, _ORDINAL)
    return read


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


def _changed(table: Table, ignore: tuple[str, ...]) -> str:
    """The condition on a staged row ``s`` and its stored row ``t``: a compared value differs."""
    compared = [c for c in table.value_columns if c not in ignore]
    return " OR ".join(f"t.{q(c)} IS DISTINCT FROM s.{q(c)}" for c in compared) or "FALSE"


def upsert_counts(
    table: Table, ignore: tuple[str, ...], *, source: str = STAGE, per: str | None = None
) -> str:
    """The query counting ``source``'s new, changed and matched rows against ``table``.

    With ``per`` (a column of the source) one row per value of it, that value first.
    """
    # one join counts all three: keys are never null, so a missing match means a new row
    present = f"t.{q(table.key[0])} IS NOT NULL"
    first, last = (f"s.{q(per)}, ", " GROUP BY ALL") if per else ("", "")
    return (
        f"SELECT {first}count(*) FILTER (WHERE NOT ({present})), "
        f"count(*) FILTER (WHERE {present} AND ({_changed(table, ignore)})), "
        f"count(*) FILTER (WHERE {present}) FROM {q(source)} s "
        f"LEFT JOIN {q(table.name)} t ON {_match('t', 's', table.key)}{last}"
    )


def _upsert(
    con: duckdb.DuckDBPyConnection, table: Table, ignore: tuple[str, ...], touch: tuple[str, ...]
) -> tuple[int, int, int]:
    """Insert new keys, update rows whose compared values changed; returns counts."""
    target, stage = q(table.name), q(STAGE)
    match = _match("t", "s", table.key)
    changed = _changed(table, ignore)
    new_rows = f"FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})"
    inserted, updated, matched = con.execute(upsert_counts(table, ignore)).fetchall()[0]
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


def unmatched(table: Table, group: tuple[str, ...], source: str = STAGE) -> str:
    """The condition on a stored row ``t`` in ``source``'s groups (any, with no group) whose
    key ``source`` lacks: the rows a merge replacing those groups deletes."""
    where = f"NOT EXISTS (SELECT 1 FROM {q(source)} s WHERE {_match('t', 's', table.key)})"
    if group:
        where += f" AND EXISTS (SELECT 1 FROM {q(source)} s WHERE {_match('t', 's', group)})"
    return where


def snapshot_group(table: Table) -> tuple[str, ...]:
    """The columns naming one snapshot a merge replaces whole; empty when rows merge by key."""
    group = tuple(c for c in table.key if c in _SNAPSHOT_GROUP)
    return group if table.kind == TableKind.SNAPSHOT and group != table.key else ()


def _delete_unmatched(con: duckdb.DuckDBPyConnection, table: Table, group: tuple[str, ...]) -> int:
    """Delete target rows in the stage's groups whose key is not staged (all rows if no group)."""
    target = q(table.name)
    where = unmatched(table, group)
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


def merge_staged(
    con: duckdb.DuckDBPyConnection, table: Table, read: int, load: Load
) -> tuple[MergeCounts, set[str]]:
    """Merge the deduplicated rows staged for ``table`` by its kind; returns counts and
    the partitions to publish, with ``read`` (from :func:`dedupe_staged`) as rows read.

    MERGE: upsert on the key. SNAPSHOT: upsert, replacing each staged
    (account, snapshot) group entirely. REPLACE: the input is the whole list;
    tables with listing columns keep history of what was seen, others are replaced.
    DERIVED: replaced like REPLACE, every row stamped with this load's metadata.
    """
    con.execute(f"DROP TABLE IF EXISTS {q(STAGE)}")
    con.execute(f"ALTER TABLE {q(accumulator(table))} RENAME TO {q(STAGE)}")
    deleted = touched = 0
    group = snapshot_group(table)
    if group:
        partitions = _partitions(con, table, group)
        deleted = _delete_unmatched(con, table, group)
        inserted, updated, touched = _upsert(con, table, LOAD_METADATA, ())
    elif table.kind == TableKind.REFERENCE and set(_LISTING) <= set(table.column_names):
        partitions = _partitions(con, table, table.key)
        inserted, updated, touched = _merge_listing(con, table, load.loaded_at, load.run_id)
    elif table.kind in (TableKind.REFERENCE, TableKind.DERIVED):
        partitions = _partitions(con, table, table.key)
        deleted = _delete_unmatched(con, table, ())
        # a derived row is as new as the derivation that last made it, changed or not
        touch = LOAD_METADATA if table.kind == TableKind.DERIVED else ()
        inserted, updated, touched = _upsert(con, table, LOAD_METADATA, touch)
    elif table.kind == TableKind.HISTORY:
        return _merge_history(con, table, read)
    elif table.kind == TableKind.SNAPSHOT:
        partitions = _partitions(con, table, table.key)
        inserted, updated, touched = _upsert(con, table, LOAD_METADATA, ())
    else:
        raise ValueError(f"{table.name}: cannot merge a table of kind {table.kind.value!r}")
    # On failure the caller's rollback discards the stage; dropping it here
    # would only hide the original error behind "transaction aborted".
    con.execute(f"DROP TABLE {q(STAGE)}")
    written = inserted + updated + deleted + touched
    # a derived table is published by every derivation, empty too: readers find its schema
    published = written or table.kind == TableKind.DERIVED
    return MergeCounts(read, inserted, updated + deleted), (partitions if published else set())


def _merge_history(
    con: duckdb.DuckDBPyConnection, table: Table, read: int
) -> tuple[MergeCounts, set[str]]:
    """Upsert the staged rows in slices of at most ``SLICE_ROWS`` keys (by a hash of the
    key), so no join ever holds more than a slice, however long the history."""
    slices = max(1, -(-_count(con, f"SELECT count(*) FROM {q(STAGE)}") // SLICE_ROWS))
    if slices > 1:
        con.execute(f"ALTER TABLE {q(STAGE)} RENAME TO {q(_WHOLE)}")
    keys = ", ".join(q(k) for k in table.key)
    inserted = updated = 0
    partitions: set[str] = set()
    for part in range(slices):
        if slices > 1:
            con.execute(
                f"CREATE TEMP TABLE {q(STAGE)} AS SELECT * FROM {q(_WHOLE)} "
                f"WHERE hash({keys}) % {slices} = {part}"
            )
        found = _partitions(con, table, table.key)
        new, changed, _ = _upsert(con, table, LOAD_METADATA, ())
        inserted, updated = inserted + new, updated + changed
        partitions |= found if new + changed else set()
        con.execute(f"DROP TABLE {q(STAGE)}")
    if slices > 1:
        con.execute(f"DROP TABLE {q(_WHOLE)}")
    return MergeCounts(read, inserted, updated), partitions


def merge_table(
    con: duckdb.DuckDBPyConnection, table: Table, incoming: pa.Table, load: Load
) -> tuple[MergeCounts, set[str]]:
    """Merge ``incoming`` into ``table`` at once (see :func:`merge_staged`)."""
    create_accumulator(con, table)
    stage_chunk(con, table, incoming, 0, load)
    # keys already unique (a snapshot, a list): nothing to drop, three statements saved,
    # which many accounts merging one after the other under one lock add up
    read = incoming.num_rows if unique_keys(incoming, table.key) else dedupe_staged(con, table)
    return merge_staged(con, table, read, load)
