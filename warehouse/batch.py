"""A resource merged in chunks: staged one by one, merged at once with its cursor and Parquet."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import partial

import duckdb
import pyarrow as pa

from transforms.catalogue import TABLES, Table
from warehouse import merge as merging
from warehouse import parquet
from warehouse.crashpoints import crash_if_asked
from warehouse.groupcommit import GroupCommit, Member
from warehouse.groupmerge import Ready, store_cursors
from warehouse.merge import Load, MergeCounts, q


def merge_with_cursor(
    con: duckdb.DuckDBPyConnection,
    load: Load,
    names: Iterable[str],
    merge: Callable[[Table], tuple[MergeCounts, set[str]]],
    cursor: dict | None,
) -> dict[str, MergeCounts]:
    """Merge each named table by ``merge``, then store the cursor and pending Parquet work.

    Returns the counts per table. Runs inside the caller's transaction and never commits,
    so the tables, the cursor and the pending work land together or not at all.
    """
    counts, pending = {}, set()
    for name in names:
        counts[name], partitions = merge(TABLES[name])
        pending |= {(name, p) for p in partitions}
    store_cursors(con, [(load, cursor)])
    parquet.add_pending(con, pending)
    return counts


def merge_whole(
    con: duckdb.DuckDBPyConnection, load: Load, tables: Mapping[str, pa.Table], cursor: dict | None
) -> dict[str, MergeCounts]:
    """Merge one resource's tables, each at once, with its cursor (see ``merge_with_cursor``)."""

    def merge(table: Table) -> tuple[MergeCounts, set[str]]:
        return merging.merge_table(con, table, tables[table.name], load)

    return merge_with_cursor(con, load, tables, merge, cursor)


class MergeBatch:
    """Chunks of one resource staged on a connection of its own and merged in one transaction.

    :meth:`add` only appends a chunk to temporary tables (DuckDB spills them past its
    memory limit), so its cost never grows with the history; :meth:`commit` merges every
    table once, stores the cursor and commits. Rows of a later chunk never override a
    key an earlier chunk holds, so the rows and counts equal those of merging each chunk
    in turn; nothing is visible to other connections before the commit. Use through
    ``Warehouse.merge_batch``.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        load: Load,
        *,
        owners: dict[str, str] | None = None,
        lock: threading.RLock | None = None,
        on_close: Callable[[], None] | None = None,
        group: GroupCommit | None = None,
    ) -> None:
        self._con = con
        self.load = load
        self.counts: dict[str, MergeCounts] = {}
        self._owners = owners or {}
        self._chunks = 0
        self._tables: list[str] = []
        self._rows = 0
        self._reads: dict[str, int] | None = None  # rows read per table, once deduplicated
        self._on_close = on_close
        self._group = group
        # staging and merging wait for the warehouse's other writers (its lock)
        self._lock = lock or threading.RLock()
        self._open = True
        con.execute("SET TimeZone = 'UTC'")
        con.begin()

    def __enter__(self) -> MergeBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def add(self, tables: Mapping[str, pa.Table]) -> None:
        """Stage one chunk's tables; they are merged, in the order first added, at commit."""
        if not self._open:
            raise RuntimeError("the merge batch is closed")
        with self._lock:
            self._stage(tables)

    def _stage(self, tables: Mapping[str, pa.Table]) -> None:
        for name, data in tables.items():
            first = name not in self._tables
            if first:
                self._tables.append(name)
                merging.create_accumulator(self._con, TABLES[name])
            merging.stage_chunk(self._con, TABLES[name], data, self._chunks, self.load)
            self._rows += data.num_rows
        self._chunks += 1

    def commit(self, cursor: dict | None) -> dict[str, MergeCounts]:
        """Merge every staged table, store the cursor and the pending Parquet work, commit.

        Returns the counts per table. With a group commit, other accounts' batches of the
        resource committing at the same moment may share the transaction (see
        ``GroupCommit``); this batch's rows are then discarded here.
        """
        if self._group is None:
            with self._lock:
                return self._commit(cursor)
        key = (self.load.resource, *self._tables)
        ready = partial(self._ready, cursor)
        member = Member(key, self.load, self._rows, ready, partial(self._commit, cursor))
        try:
            self.counts = self._group.merge(member)
        finally:
            self.rollback()
        return self.counts

    def _dedupe(self) -> dict[str, int]:
        """Leave one staged row per key (the first), once; the rows read per table."""
        if self._reads is None:
            reads = {}
            # children first: a fill's taxes look up the fills' chunks before those are cut
            for name in reversed(self._tables):
                owner = self._owners.get(name)
                reads[name] = merging.dedupe_staged(
                    self._con,
                    TABLES[name],
                    chunks=self._chunks,
                    owner=TABLES[owner] if owner in self._tables else None,
                )
            self._reads = reads
        return self._reads

    def _ready(self, cursor: dict | None) -> Ready:
        """The staged rows, one per key, read out to merge in a group."""
        reads = self._dedupe()
        tables = {}
        for name in self._tables:
            cols = ", ".join(q(c) for c in TABLES[name].column_names)
            staged = q(merging.accumulator(TABLES[name]))
            tables[name] = self._con.sql(f"SELECT {cols} FROM {staged}").to_arrow_table()
        return Ready(self.load, tables, reads, cursor)

    def _commit(self, cursor: dict | None) -> dict[str, MergeCounts]:
        try:
            reads = self._dedupe()
            self.counts = merge_with_cursor(
                self._con,
                self.load,
                self._tables,
                lambda table: merging.merge_staged(self._con, table, reads[table.name], self.load),
                cursor,
            )
            crash_if_asked("commit")
            self._con.commit()
        except BaseException:
            self.rollback()
            raise
        self._close()
        return self.counts

    def rollback(self) -> None:
        """Discard every chunk; safe to call twice."""
        if self._open:
            # A failed rollback (an invalidated database) must not hide the cause.
            with contextlib.suppress(duckdb.Error):
                self._con.rollback()
            self._close()

    def _close(self) -> None:
        self._open = False
        with contextlib.suppress(duckdb.Error):
            self._con.close()
        if self._on_close is not None:
            self._on_close()


def restamp_tables(con: duckdb.DuckDBPyConnection, *, load: Load, names: Iterable[str]) -> None:
    """Stamp every row of the tables ``names`` as made by ``load`` and mark every partition
    of theirs for publishing (see ``Warehouse.restamp``)."""
    pending = set()
    for table in (TABLES[name] for name in names):
        stamp = f'UPDATE {q(table.name)} SET "_loaded_at" = ?, "_run_id" = ?'
        con.execute(stamp, [load.loaded_at, load.run_id])
        pending |= {(table.name, p) for p in parquet.expected_partitions(con, table)}
    parquet.add_pending(con, pending)
