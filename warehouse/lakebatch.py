"""Tables of the lake loaded and published at once, each in a thread of its own.

A table's load (a LIST, its checkpoint, each log entry since) and its commit (the data
files, the log entry, the library reading it back) are chains of requests, each waiting
for the last: at a real store's 10-50 ms a round trip, a night's 17 loads and 16 commits
one after another wait seconds on the network alone. The tables are independent Delta
tables and the Delta library lets go of the interpreter while it waits, so they go at
once, a few at a time. The warehouse's DuckDB connection is not shared between threads:
each publish reads the rows through a cursor of its own (the rows it sends are committed,
and the transaction publishing them has written nothing yet), and what a commit leaves to
note is written afterwards on the connection, table by table, in that same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import duckdb

from transforms.catalogue import Table
from warehouse.crashpoints import crash_if_asked

if TYPE_CHECKING:
    from warehouse.lake import Lake, Later

# tables committed at once. A commit streams its rows from DuckDB (held to its
# memory limit) into Parquet files; few tables are large, so the busy account's runs
# peaked at 835 MiB with 8 at once against 817 MiB with 4 (and 7.5 s a night at 20 ms a
# request against 8.2 s)
TABLES_AT_ONCE = 8

T = TypeVar("T")
R = TypeVar("R")


def load_tables(lake: Lake, names: Iterable[str], *, fresh: bool) -> None:
    """Load the tables ``names`` at once (``fresh``: again, those loaded before too), or
    verify this worker's notes of them (``Lake.load``); a table the lake has none of stays
    unloaded."""
    wanted = [name for name in dict.fromkeys(names) if fresh or not lake.is_kept(name)]
    # all at once: a load holds a table's log, not its rows (17 tables: 0.25 s less at 20 ms)
    each(lake.load, wanted, len(wanted))


def create_tables(lake: Lake, tables: Iterable[Table]) -> Later:
    """Create at once each of ``tables`` the lake was found without (``Lake.create``);
    returns the notes of the tables made."""
    missing = lake.missing(tables)
    # all at once, as loads: a create writes one log entry, no rows (16 tables: one after
    # another they held a busy first run 14 s at 20 ms a request)
    made = each(lake.create, missing, len(missing))
    return [note for notes in made for note in notes]


def publish_tables(
    lake: Lake, con: duckdb.DuckDBPyConnection, pending: Sequence[tuple[Table, list[str]]]
) -> list[tuple[str, str]]:
    """Publish each table's pending partitions in a commit of its own, several at once,
    then note on ``con`` what the lake holds; returns the (table, partition) published.

    Every commit started is finished before an error is raised (the first in ``pending``'s
    order), and nothing is noted then: the caller's transaction is rolled back, its rows
    stay pending, and the next publish sends them again (merged on the key: no row twice).
    """
    lake.direct.recall(con)
    load_tables(lake, [table.name for table, _ in pending], fresh=False)
    cursors = [con.cursor() for _ in pending]

    def publish(item: tuple[duckdb.DuckDBPyConnection, tuple[Table, list[str]]]) -> tuple:
        read, (table, partitions) = item
        crash_if_asked("lake")
        read.execute("BEGIN TRANSACTION")  # what a commit sends and notes: one snapshot
        try:
            return lake.publish_table(read, table, partitions)
        finally:
            read.execute("ROLLBACK")

    try:
        outcomes: list[tuple[list[str], Later]] = each(
            publish, list(zip(cursors, pending, strict=True)), TABLES_AT_ONCE
        )
    finally:
        for cursor in cursors:
            cursor.close()
    published = []
    for (table, _), (done, later) in zip(pending, outcomes, strict=True):
        for note in later:
            note(con)
        published += [(table.name, partition) for partition in done]
    return published


def each(work: Callable[[T], R], items: Sequence[T], at_once: int) -> list[R]:
    """``work`` of every item, at most ``at_once`` at a time, results in ``items``' order;
    all are finished before the first error, in that order, is raised."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(min(at_once, len(items)), thread_name_prefix="lake") as pool:
        futures = [pool.submit(work, item) for item in items]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]
