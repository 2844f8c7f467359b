"""The warehouse: a private working DuckDB database, its lock, merges, state and publishing.

The pipeline writes only ``<data>/.work/warehouse.duckdb``. ``publish_database``
checkpoints it and copies it over ``<data>/warehouse.duckdb`` by atomic rename, in a
storage format DuckDB 1.x opens (``published``), so readers opening the published file
read-only never block a run and keep the snapshot they opened.
One run at a time holds ``<data>/.work/lock``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from threading import RLock
from typing import TYPE_CHECKING, TypeVar

import duckdb
import pyarrow as pa

from transforms.catalogue import TABLES
from warehouse import merge as merging
from warehouse import parquet
from warehouse.batch import MergeBatch, merge_with_cursor
from warehouse.bookkeeping import BOOKKEEPING, LOAD_STATE, SETTINGS
from warehouse.crashpoints import crash_if_asked
from warehouse.files import (
    WarehouseLocked as WarehouseLocked,  # raised by Warehouse.open; part of this module's API
)
from warehouse.files import (
    copy_atomic,
    ensure_dir,
    secure_file,
    take_lock,
)
from warehouse.leftovers import remove_leftovers
from warehouse.merge import MergeCounts, q
from warehouse.migrate import add_missing_columns, drop_primary_keys
from warehouse.parquet import ParquetPublisher
from warehouse.published import write_published
from warehouse.raw import RAW_DIR
from warehouse.reader import DATABASE_FILE
from warehouse.rebuild import Rebuilding
from warehouse.runlog import RunLogRecorder
from warehouse.uploads import record_worker, restore_database, upload_database, upload_raw
from warehouse.views import comment_sql
from warehouse.views import create_views as replace_views

if TYPE_CHECKING:
    from warehouse.lake import Lake

T = TypeVar("T")
WORK_DIR = ".work"
LOCK_FILE = "lock"
# DuckDB's share of memory; it spills past it to .work/. Nothing a merge holds grows with
# the history (no key index, chunks staged in temporary tables), so no account outgrows
# it: a 4x busy account (1M rows) exports within it. T212_DUCKDB_MEMORY_LIMIT overrides.
MEMORY_LIMIT = "256MB"
MEMORY_ENV = "T212_DUCKDB_MEMORY_LIMIT"
VACUUMED_AT = "lake_vacuumed_at"  # a setting: when this worker last cleaned the lake


_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}  # fmt: skip


def memory_bytes(size: str) -> int | None:
    """Bytes of a DuckDB memory size such as ``256MB`` or ``1GiB``; None if not one."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]I?)?B?\s*", size.upper())
    if not match:
        return None
    return int(float(match[1]) * _UNITS[match[2] or ""])


class CheckpointFailed(OSError):
    """The working database could not write its checkpoint (a full disk); nothing is lost."""


class MemoryLimitInvalid(ValueError):
    """The memory limit set for DuckDB is not one it accepts."""


class Warehouse(RunLogRecorder, ParquetPublisher, Rebuilding):
    """Storage of one data directory; open with :meth:`Warehouse.open`."""

    def __init__(
        self,
        data_dir: Path,
        lock_fd: int | None,
        work_db: Path | None = None,
        lake: Lake | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        # with a storage URL the tables are published to the lake instead of parquet/
        self.lake = lake
        self.work_db = work_db or self.data_dir / WORK_DIR / DATABASE_FILE
        self.published_db = self.data_dir / DATABASE_FILE
        self.parquet_dir = self.data_dir / parquet.PARQUET_DIR
        self._lock_fd: int | None = lock_fd
        self._con: duckdb.DuckDBPyConnection | None = None
        # the connection serves one thread at a time: every use of it from a run's threads
        # goes through a method that holds this lock
        self._lock = RLock()
        # tables an upgrade re-keyed: their rows are read again from the raw zone
        self.replay_needed: set[str] = set()
        # a database a rebuild is filling: its Parquet work waits until it is swapped in
        self.building = False

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        lock_timeout: float = 0.0,
        views: bool = True,
        lake: Lake | None = None,
    ) -> Warehouse:
        """Create the directories, take the run lock, open the working database and its schema.

        Temporary files that killed processes left are removed first (see ``leftovers``).

        Waits up to ``lock_timeout`` seconds for another run's lock, then raises
        :class:`WarehouseLocked`. With ``views`` False the analysis views are left to a
        later :meth:`create_views` (a run creates them while its first requests are out).
        With a ``lake``, a data directory with no database starts from the one the worker
        last uploaded there, cursors and all.
        """
        data_dir = Path(data_dir)
        work = ensure_dir(data_dir / WORK_DIR)
        ensure_dir(data_dir / parquet.PARQUET_DIR)
        lock = take_lock(work / LOCK_FILE, lock_timeout)
        warehouse = cls(data_dir, lock, lake=lake)
        try:
            remove_leftovers(data_dir, warehouse.work_db, os.fstat(lock).st_mtime_ns)
            fresh = not warehouse.work_db.exists() and not warehouse.published_db.exists()
            if lake is not None:
                record_worker(work, lake.name)
                if fresh:
                    restore_database(lake.store, warehouse.published_db, lake.name)
            if not warehouse.work_db.exists() and warehouse.published_db.exists():
                copy_atomic(warehouse.published_db, warehouse.work_db)
            warehouse._connect()
            warehouse._create_tables()
            if views:
                warehouse.create_views()
        except BaseException:
            warehouse.close()
            raise
        return warehouse

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The working database connection (read and write)."""
        if self._con is None:
            raise RuntimeError("the warehouse is closed")
        return self._con

    def _connect(self) -> None:
        self._con = duckdb.connect(str(self.work_db))
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET enable_progress_bar = false")  # never drawn into a run's output
        limit = self._memory_limit()
        try:
            self._con.execute("SET memory_limit = ?", [limit])
        except duckdb.Error:
            self._con.close()
            self._con = None
            raise MemoryLimitInvalid(
                f"{MEMORY_ENV}={limit!r} is not a memory size; give one such as 256MB or 1GB"
            ) from None
        self._secure_files()

    @staticmethod
    def _memory_limit() -> str:
        return os.environ.get(MEMORY_ENV) or MEMORY_LIMIT

    @contextlib.contextmanager
    def memory_at_least(self, floor: int) -> Iterator[None]:
        """DuckDB's memory limit raised to ``floor`` bytes for the block, when set lower."""
        limit = memory_bytes(self._memory_limit())
        if limit is None or limit >= floor:
            yield
            return
        self.connection.execute(f"SET memory_limit = '{floor // 2**20}MiB'")
        try:
            yield
        finally:
            self.connection.execute("SET memory_limit = ?", [self._memory_limit()])

    def _secure_files(self) -> None:
        secure_file(self.work_db)
        secure_file(self.work_db.with_name(self.work_db.name + ".wal"))

    def _create_tables(self) -> None:
        con = self.connection
        con.begin()  # one commit for every table; a failure closes the warehouse unchanged
        for table in (*TABLES.values(), *BOOKKEEPING.values()):
            con.execute(table.duckdb_ddl())
            if table.description:
                con.execute(comment_sql("TABLE", table.name, table.description))
        drop_primary_keys(con, list(TABLES.values()))
        self.replay_needed |= add_missing_columns(con, list(TABLES.values()))
        con.commit()

    def create_views(self) -> None:
        """Create or replace every analysis view, in one transaction on a cursor of its own.

        The cursor is a connection of its own, so this may run beside threads that use
        :attr:`connection` under their lock.
        """
        self._transaction(replace_views, cursor=True)

    def close(self) -> None:
        """Close the database and release the run lock; safe to call twice."""
        if self._con is not None:
            self._con.close()
            self._con = None
            self._secure_files()
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _transaction(
        self, work: Callable[[duckdb.DuckDBPyConnection], T], *, cursor: bool = False
    ) -> T:
        if not cursor:
            with self._lock:
                return self._run(self.connection, work)
        con = self.connection.cursor()
        try:
            return self._run(con, work)
        finally:
            con.close()

    def _run(
        self, con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T]
    ) -> T:
        con.begin()
        try:
            result = work(con)
            crash_if_asked("commit")
            con.commit()
        except BaseException:
            # A failed rollback (an invalidated database) must not hide the cause.
            with contextlib.suppress(duckdb.Error):
                con.rollback()
            raise
        finally:
            self._secure_files()
        return result

    def merge_resource(
        self,
        resource: str,
        account_id: int,
        tables: Mapping[str, pa.Table],
        *,
        run_id: str,
        loaded_at: datetime,
        cursor: dict | None,
    ) -> dict[str, MergeCounts]:
        """Merge one resource's tables, its new cursor and its pending Parquet work atomically.

        Everything lands in one DuckDB transaction: on any error it is rolled back
        (tables, cursor and pending work stay as before) and the error re-raised.
        """

        def work(con: duckdb.DuckDBPyConnection) -> dict[str, MergeCounts]:
            return merge_with_cursor(
                con,
                resource,
                account_id,
                tables,
                lambda table: merging.merge_table(
                    con, table, tables[table.name], loaded_at=loaded_at, run_id=run_id
                ),
                cursor=cursor,
                loaded_at=loaded_at,
                run_id=run_id,
            )

        return self._transaction(work)

    def merge_batch(self, resource: str, account_id: int, **options: object) -> MergeBatch:
        """A batch merging one resource chunk by chunk in one transaction of its own.

        ``with wh.merge_batch(name, account, run_id=..., loaded_at=...) as batch``: call
        ``batch.add(tables)`` per chunk and ``batch.commit(cursor)`` at the end; leaving the
        block without a commit rolls every chunk back. See :class:`MergeBatch`.
        """
        with self._lock:
            con = self.connection.cursor()
        return MergeBatch(
            con, resource, account_id, lock=self._lock, on_close=self._secure_files, **options
        )

    def write_setting(self, name: str, value: str | None) -> None:
        """Store a choice the views read (``settings``); None removes it."""
        self._transaction(
            lambda con: (
                con.execute(f"DELETE FROM {q(SETTINGS.name)} WHERE name = ?", [name])
                if value is None
                else con.execute(
                    f"INSERT OR REPLACE INTO {q(SETTINGS.name)} VALUES (?, ?)", [name, value]
                )
            )
        )

    def get_state(self, account_id: int, resource: str) -> dict | None:
        """The stored cursor, last success time and last run id of a resource, or None."""
        rows = self.fetch(
            f'SELECT "cursor", "last_success_at", "last_run_id" FROM {q(LOAD_STATE.name)} '
            'WHERE "account_id" = ? AND "resource" = ?',
            [account_id, resource],
        )
        if not rows:
            return None
        row = rows[0]
        cursor = None if row[0] is None else json.loads(row[0])
        return {"cursor": cursor, "last_success_at": row[1], "last_run_id": row[2]}

    def fetch(self, sql: str, params: list | None = None) -> list[tuple]:
        """The rows of one query on the working database, safe beside a run's other threads."""
        with self._lock:
            return self.connection.execute(sql, params or []).fetchall()

    def count_rows(self, table: str, account_id: int | None = None) -> int:
        """Rows in ``table``, optionally of one account."""
        sql = f"SELECT count(*) FROM {q(table)}"
        params = []
        if account_id is not None:
            sql += ' WHERE "account_id" = ?'
            params.append(account_id)
        return int(self.fetch(sql, params)[0][0])

    def has_rows(self, table: str, account_id: int | None = None) -> bool:
        """Whether ``table`` holds any row (of ``account_id`` when given)."""
        return self.count_rows(table, account_id) > 0

    def read_table(self, table: str) -> pa.Table:
        """The whole table ordered by its key, typed by the catalogue."""
        declared = parquet.PUBLISHED[table]
        keys = ", ".join(q(k) for k in declared.key)
        data = self.connection.sql(f"SELECT * FROM {q(table)} ORDER BY {keys}").to_arrow_table()
        return data.cast(declared.arrow_schema())

    def publish_database(self, *, reopen: bool = True) -> None:
        """Checkpoint the working database and atomically replace the published copy with it.

        With ``reopen`` False the database stays closed afterwards (the end of a run, which
        only closes the warehouse next); the run lock is kept until :meth:`close`. A
        checkpoint that cannot be written (a full disk) raises :class:`CheckpointFailed`:
        the commits stay in the write-ahead log, and the next open replays them.
        """
        try:
            self.connection.execute("CHECKPOINT")
        except duckdb.Error as exc:
            # DuckDB invalidates the database after a failed checkpoint: only a reopen clears it
            self._con.close()
            self._con = None
            if reopen:
                self._connect()
            raise CheckpointFailed(errno.EIO, str(exc).splitlines()[0]) from None
        self._con.close()
        self._con = None
        try:
            # A WAL beside the published file would belong to an older file.
            (self.published_db.with_name(DATABASE_FILE + ".wal")).unlink(missing_ok=True)
            write_published(self.work_db, self.published_db, self._memory_limit())
            if self.lake is not None:
                upload_database(self.lake.store, self.published_db, self.lake.name)
        finally:
            if reopen:
                self._connect()
            else:
                self._secure_files()

    def publish(self, *, reopen: bool = True) -> None:
        """Publish pending Parquet partitions, then the database (see :meth:`publish_database`),
        then, with a lake, copy the raw zone's new runs to it (and clean it once a day)."""
        self.publish_parquet()
        if self.lake is not None:
            self._vacuum_when_due()
        self.publish_database(reopen=reopen)
        if self.lake is not None:
            upload_raw(self.lake.store, self.data_dir / RAW_DIR)

    def _vacuum_when_due(self) -> None:
        """Compact and clean the lake's files at most once a day (see ``Lake.vacuum``)."""
        from warehouse.lake import VACUUM_EVERY

        now = datetime.now(UTC)
        rows = self.connection.execute(
            f"SELECT value FROM {q(SETTINGS.name)} WHERE name = ?", [VACUUMED_AT]
        ).fetchall()
        if rows and now - datetime.fromisoformat(rows[0][0]) < VACUUM_EVERY:
            return
        self._transaction(lambda con: self.lake.compact(con, parquet.PUBLISHED.values()))
        self.lake.vacuum(parquet.PUBLISHED)
        self.write_setting(VACUUMED_AT, now.isoformat())
