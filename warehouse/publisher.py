"""Where a warehouse publishes its tables: one interface, and its local Parquet implementation.

A run publishes through a :class:`Publisher` chosen once from the settings
(``flows.pipeline.storage``): :class:`LocalParquet`, the Parquet files under the data
directory, or ``warehouse.lakepublisher.LakePublisher``, the Delta tables of a storage
URL with its leases, raw zone copy and published database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb

from transforms.catalogue import Table
from warehouse import parquet
from warehouse.parquet import PARQUET_DIR, WHOLE_TABLE, Problem, find_problems
from warehouse.reader import connect_readonly

# a warehouse's transaction: runs work(con) in one transaction, commits, returns its result
Transaction = Callable[[Callable[[duckdb.DuckDBPyConnection], Any]], Any]


class Publisher(Protocol):
    """What a warehouse publishes through, and what a command reads back from."""

    label: str  # how the status report names the published copy: parquet or lake

    def prepare(self, work_dir: Path, published_db: Path, *, fresh: bool) -> None:
        """Before the working database opens (``fresh``: the data directory has none)."""

    def publish(
        self, con: duckdb.DuckDBPyConnection, pending: Sequence[tuple[Table, list[str]]]
    ) -> list[tuple[str, str]]:
        """Publish each table's pending partitions (``*``: all of it), in ``con``'s
        transaction; returns the (table, partition) published."""

    def problems(
        self, con: duckdb.DuckDBPyConnection, newer_than: float | None = None
    ) -> list[Problem]:
        """How the published copy differs from the database ``con`` reads."""

    def catch_up(self, con: duckdb.DuckDBPyConnection, accounts: Iterable[int]) -> int:
        """Merge in what other workers published of ``accounts``; returns how many rows."""

    def housekeep(self, transaction: Transaction) -> None:
        """Tidy the published copy when due, in the warehouse's ``transaction``s."""

    def upload_database(self, path: Path, source: Path) -> None:
        """Copy the published database file where other machines read it, unless the
        working database it was copied from (``source``) is unchanged since the last copy."""

    def upload_raw(self, raw_dir: Path) -> None:
        """Copy the raw zone's complete runs where other machines read them."""

    def fetch_raw(self, raw_dir: Path) -> dict[int, str]:
        """Fetch the raw runs the disk lacks; returns the accounts a rebuild writes."""

    def held(self, accounts: Mapping[int, str]) -> contextlib.AbstractContextManager[None]:
        """Hold the right to write ``accounts`` for the block."""

    @property
    def down(self) -> str | None:
        """Why the published copy cannot be reached now, or None."""

    def reconnect(self) -> None:
        """Try a copy that stopped answering once more."""

    def status_lines(self) -> list[str]:
        """What the status report says of where the copy lives."""

    def connect_reader(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the published tables and views."""


class LocalParquet:
    """The Parquet files under ``<data>/parquet/`` and the database beside them."""

    label = "parquet"
    down = None  # a local disk never stops answering: it fails a write instead

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / PARQUET_DIR

    def __repr__(self) -> str:
        return f"LocalParquet({str(self.data_dir)!r})"

    def prepare(self, work_dir: Path, published_db: Path, *, fresh: bool) -> None:
        """Nothing to prepare: the data directory holds everything."""

    def publish(
        self, con: duckdb.DuckDBPyConnection, pending: Sequence[tuple[Table, list[str]]]
    ) -> list[tuple[str, str]]:
        """Write each partition's file atomically (``*`` rewrites the whole table)."""
        for table, partitions in pending:
            for partition in partitions:
                if partition == WHOLE_TABLE:
                    parquet.publish_table(con, self.root, table)
                else:
                    parquet.write_partition(con, self.root, table, partition)
        return [(table.name, p) for table, partitions in pending for p in partitions]

    def problems(
        self, con: duckdb.DuckDBPyConnection, newer_than: float | None = None
    ) -> list[Problem]:
        """Missing, unreadable, stale or stray files (see ``parquet.find_problems``)."""
        return find_problems(con, self.root, newer_than)

    def catch_up(self, con: duckdb.DuckDBPyConnection, accounts: Iterable[int]) -> int:
        """No other worker publishes here."""
        return 0

    def housekeep(self, transaction: Transaction) -> None:
        """Nothing to tidy: a file replaced is gone."""

    def upload_database(self, path: Path, source: Path) -> None:
        """The published database stays where it is."""

    def upload_raw(self, raw_dir: Path) -> None:
        """The raw zone stays where it is."""

    def fetch_raw(self, raw_dir: Path) -> dict[int, str]:
        """The raw zone is all there is; a rebuild takes no lease."""
        return {}

    @contextlib.contextmanager
    def held(self, accounts: Mapping[int, str]) -> Iterator[None]:
        """No lease: the run lock of the data directory is enough."""
        yield

    def reconnect(self) -> None:
        """Nothing to reconnect."""

    def status_lines(self) -> list[str]:
        """Nothing to add: the report names the data directory."""
        return []

    def connect_reader(self) -> duckdb.DuckDBPyConnection:
        """The published ``warehouse.duckdb``, read-only (see ``reader.connect_readonly``)."""
        return connect_readonly(self.data_dir)
