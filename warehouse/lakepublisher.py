"""Publishing to the lake of a storage URL: Delta tables, leases, the raw zone and the database.

The :class:`~warehouse.publisher.Publisher` a run uses when a storage URL is set: each
table's pending partitions go to the lake in one commit, the worker's database and raw
runs are copied beside them, and the accounts' leases are held while the run writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from transforms.catalogue import Table
from warehouse import lake as lakes
from warehouse.bookkeeping import SETTINGS
from warehouse.catchup import catch_up
from warehouse.lake import Lake
from warehouse.lakebatch import create_tables, load_tables, publish_tables
from warehouse.lakeclean import compact_tables, vacuum_tables
from warehouse.leases import Leases
from warehouse.merge import q
from warehouse.objectstore import ObjectStore
from warehouse.parquet import PUBLISHED, WHOLE_TABLE, Problem
from warehouse.publisher import Transaction
from warehouse.reader import connect_lake
from warehouse.uploads import (
    download_raw,
    raw_accounts,
    record_worker,
    restore_database,
    upload_database,
    upload_raw,
)

VACUUMED_AT = "lake_vacuumed_at"  # a setting: when this worker last cleaned the lake


class LakePublisher:
    """The Delta tables under one storage URL, as one worker (``lake.name``) writes them."""

    label = "lake"

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def __repr__(self) -> str:
        return f"LakePublisher({self.lake!r})"

    def prepare(self, work_dir: Path, published_db: Path, *, fresh: bool) -> None:
        """Record the worker's name; a fresh data directory starts from the database the
        worker last uploaded, cursors and all."""
        record_worker(work_dir, self.lake.name)
        if fresh:
            restore_database(self.lake.store, published_db, self.lake.name)

    def publish(
        self, con: duckdb.DuckDBPyConnection, pending: Sequence[tuple[Table, list[str]]]
    ) -> list[tuple[str, str]]:
        """A Delta commit per table, several at once (``warehouse.lakebatch``); those of
        accounts this worker holds no lease for stay pending. Tables the lake was found
        without are created first, empty ones included (``Lake.create``)."""
        for note in create_tables(self.lake, PUBLISHED.values()):  # those a publish would make
            note(con)
        return publish_tables(self.lake, con, pending)

    def problems(
        self, con: duckdb.DuckDBPyConnection, newer_than: float | None = None
    ) -> list[Problem]:
        """How the lake differs from DuckDB, per table and account (see ``Lake.problems``)."""
        self.lake.direct.recall(con)
        load_tables(self.lake, PUBLISHED, fresh=False)
        return [
            Problem(table.name, WHOLE_TABLE, message)
            for table in PUBLISHED.values()
            for message in self.lake.problems(con, table)
        ]

    def catch_up(self, con: duckdb.DuckDBPyConnection, accounts: Iterable[int]) -> int:
        """Merge the lake's rows of ``accounts`` this database lacks (``warehouse.catchup``)."""
        return catch_up(con, self.lake, accounts)

    def housekeep(self, transaction: Transaction) -> None:
        """Compact and clean the lake's files at most once a day (``warehouse.lakeclean``)."""
        now = datetime.now(UTC)

        def compact_when_due(con: duckdb.DuckDBPyConnection) -> bool:
            rows = con.execute(
                f"SELECT value FROM {q(SETTINGS.name)} WHERE name = ?", [VACUUMED_AT]
            ).fetchall()
            if rows and now - datetime.fromisoformat(rows[0][0]) < lakes.VACUUM_EVERY:
                return False
            compact_tables(self.lake, con, PUBLISHED.values())
            return True

        if not transaction(compact_when_due):
            return
        _, notes = vacuum_tables(self.lake, PUBLISHED.values())

        def vacuumed(con: duckdb.DuckDBPyConnection) -> None:
            for note in notes:
                note(con)
            con.execute(
                f"INSERT OR REPLACE INTO {q(SETTINGS.name)} VALUES (?, ?)",
                [VACUUMED_AT, now.isoformat()],
            )

        transaction(vacuumed)

    def upload_database(self, path: Path, source: Path) -> None:
        """Upload the published database as ``duckdb/<worker>.duckdb``."""
        upload_database(self.lake.store, path, self.lake.name, source=source)

    def upload_raw(self, raw_dir: Path) -> None:
        """Copy the raw zone's new complete runs to the store."""
        upload_raw(self.lake.store, raw_dir)

    def fetch_raw(self, raw_dir: Path) -> dict[int, str]:
        """Fetch the raw runs the store holds and the disk lacks (a fresh machine rebuilds
        from the lake); returns every account of the raw zone, whose leases a rebuild holds."""
        download_raw(self.lake.store, raw_dir)
        return {a: str(a) for a in raw_accounts(raw_dir)}

    @contextlib.contextmanager
    def held(self, accounts: Mapping[int, str]) -> Iterator[None]:
        """Hold the lease of every account for the block; only their rows are written.

        Raises ``AccountBusy`` when another live process exports one of them; once a lease
        is lost (or cannot be renewed) the lake refuses writes with ``LeaseLost``.
        """
        lake = self.lake
        # a client of their own: the leases are renewed while the lake's client has given up
        # on an unreachable store; the lake writes only while they hold (lake.store.fence)
        with Leases(ObjectStore(lake.url), accounts) as leases:
            lake.held = frozenset(int(a) for a in accounts)
            lake.store.fence = leases.check
            try:
                yield
            finally:
                lake.held = None
                lake.store.fence = None

    @property
    def down(self) -> str | None:
        """Why the store is taken as unreachable, or None."""
        return self.lake.store.down

    def reconnect(self) -> None:
        """Try a store that stopped answering mid-run once more."""
        self.lake.store.reconnect()

    def status_lines(self) -> list[str]:
        """The storage URL checked."""
        return [f"lake: {self.lake.url}"]

    def connect_reader(self) -> duckdb.DuckDBPyConnection:
        """The lake's tables at their last commit, with every view (``reader.connect_lake``)."""
        return connect_lake(self.lake)
