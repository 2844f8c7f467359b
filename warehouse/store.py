"""The warehouse: a private working DuckDB database, its lock, merges, state and publishing.

The pipeline writes only ``<data>/.work/warehouse.duckdb``. ``publish_database``
checkpoints it and copies it over ``<data>/warehouse.duckdb`` by atomic rename; both are
in a storage format DuckDB 1.x opens (``published``), so readers opening the published file
read-only never block a run and keep the snapshot they opened.
One run at a time holds ``<data>/.work/lock``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from threading import RLock
from typing import TypeVar

import duckdb
import pyarrow as pa

from warehouse import parquet
from warehouse.batch import MergeBatch, merge_whole, restamp_tables
from warehouse.bookkeeping import LOAD_STATE, SETTINGS
from warehouse.crashpoints import crash_if_asked
from warehouse.files import copy_atomic, ensure_dir, fsync_dir, secure_file, take_lock
from warehouse.groupcommit import GroupCommit, Member
from warehouse.groupmerge import ready_whole
from warehouse.leftovers import remove_leftovers
from warehouse.memory import MemoryLimitInvalid, memory_at_least, memory_limit, set_memory_limit
from warehouse.merge import Load, MergeCounts, q
from warehouse.published import WORKING_CONFIG, in_published_format, write_published
from warehouse.publisher import LocalParquet, Publisher
from warehouse.raw import RAW_DIR
from warehouse.reader import DATABASE_FILE
from warehouse.runlog import RunLog
from warehouse.schema import copy_blank, create_tables
from warehouse.views import refresh_views

T = TypeVar("T")
WORK_DIR = ".work"
LOCK_FILE = "lock"


class CheckpointFailed(OSError):
    """The working database could not write its checkpoint (a full disk); nothing is lost."""


class Warehouse:
    """Storage of one data directory (open with :meth:`Warehouse.open`): its connection,
    transactions and the lock a run's threads share them by; its :attr:`run_log` writes in
    its transactions, and it publishes through its :attr:`publisher`."""

    published_at = float("-inf")  # time.monotonic() of the last Parquet publish

    def __init__(
        self,
        data_dir: Path,
        lock_fd: int | None,
        work_db: Path | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.publisher: Publisher = publisher or LocalParquet(self.data_dir)
        self.work_db = work_db or self.data_dir / WORK_DIR / DATABASE_FILE
        self.published_db = self.data_dir / DATABASE_FILE
        self.parquet_dir = self.data_dir / parquet.PARQUET_DIR
        self._lock_fd: int | None = lock_fd
        self._con: duckdb.DuckDBPyConnection | None = None
        # the connection serves one thread at a time: every use of it from a run's threads
        # goes through a method that holds this lock
        self._lock = RLock()
        self._publishing = RLock()  # held by a publish (or a repair) from its start to its end
        self.group = GroupCommit(self._lock, self.transaction)
        # tables an upgrade re-keyed: their rows are read again from the raw zone
        self.replay_needed: set[str] = set()
        # a database a rebuild is filling: its Parquet work waits until it is swapped in
        self.building = False
        self.run_log = RunLog(self.transaction)

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        lock_timeout: float = 0.0,
        views: bool = True,
        publisher: Publisher | None = None,
    ) -> Warehouse:
        """Create the directories, take the run lock, open the working database and its schema.

        Temporary files that killed processes left are removed first (see ``leftovers``).

        Waits up to ``lock_timeout`` seconds for another run's lock, then raises
        :class:`WarehouseLocked`. With ``views`` False no view is created here, but left to
        a later :meth:`create_views` (a run creates them while its first requests are out);
        a new database copied from the empty one (``schema``) has them already.
        The ``publisher`` (local Parquet unless given) prepares the directory first: a
        lake's starts a data directory with no database from the one last uploaded.
        """
        data_dir = Path(data_dir)
        work = ensure_dir(data_dir / WORK_DIR)
        ensure_dir(data_dir / parquet.PARQUET_DIR)
        lock = take_lock(work / LOCK_FILE, lock_timeout)
        warehouse = cls(data_dir, lock, publisher=publisher)
        try:
            remove_leftovers(data_dir, warehouse.work_db, os.fstat(lock).st_mtime_ns)
            fresh = not warehouse.work_db.exists() and not warehouse.published_db.exists()
            warehouse.publisher.prepare(work, warehouse.published_db, fresh=fresh)
            if not warehouse.work_db.exists() and warehouse.published_db.exists():
                copy_atomic(warehouse.published_db, warehouse.work_db)
            warehouse.start()
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
        self._con = duckdb.connect(str(self.work_db), config=WORKING_CONFIG)
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET enable_progress_bar = false")  # never drawn into a run's output
        try:
            set_memory_limit(self._con)
        except MemoryLimitInvalid:
            self._con.close()
            self._con = None
            raise
        self._secure_files()

    def memory_at_least(self, floor: int) -> contextlib.AbstractContextManager[None]:
        """DuckDB's memory limit raised to ``floor`` bytes for the block, when set lower."""
        return memory_at_least(self.connection, floor)

    def _secure_files(self) -> None:
        secure_file(self.work_db)
        secure_file(self.work_db.with_name(self.work_db.name + ".wal"))

    def start(self) -> None:
        """Connect to the working database and create or upgrade its tables.

        A new database may start as a copy of an empty one, every table and view current
        (``schema``).
        """
        copied = not self.work_db.exists() and copy_blank(self.work_db)
        self._connect()
        if copied:
            return
        con = self.connection
        con.begin()  # one commit for every table; a failure closes the warehouse unchanged
        self.replay_needed |= create_tables(con)
        con.commit()

    def create_views(self) -> None:
        """Create or replace every analysis view, in one transaction on a cursor of its own
        (none when they are the current definitions already: ``views.refresh_views``).

        The cursor is a connection of its own, so this may run beside threads that use
        the connection.
        """
        self.transaction(refresh_views, cursor=True)

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

    def transaction(
        self, work: Callable[[duckdb.DuckDBPyConnection], T], *, cursor: bool = False
    ) -> T:
        """Run ``work(con)`` in one transaction and commit; on any error roll it back.

        On the connection, under the lock; with ``cursor`` on a connection of its own,
        beside the threads that use the connection.
        """
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
        self, load: Load, tables: Mapping[str, pa.Table], cursor: dict | None
    ) -> dict[str, MergeCounts]:
        """Merge one resource's tables, its new cursor and its pending Parquet work atomically.

        Everything lands in one DuckDB transaction: on any error it is rolled back
        (tables, cursor and pending work stay as before) and the error re-raised. Other
        accounts' merges of the resource queued at the same moment may share it (:attr:`group`).
        """

        def alone() -> dict[str, MergeCounts]:
            return self.transaction(lambda con: merge_whole(con, load, tables, cursor))

        rows = sum(t.num_rows for t in tables.values())
        ready = partial(ready_whole, load, tables, cursor)
        return self.group.merge(Member((load.resource, *tables), load, rows, ready, alone))

    def restamp(self, load: Load, names: Iterable[str]) -> None:
        """Stamp the derived tables ``names`` as made by ``load``, unchanged: every row takes
        its metadata and every partition is published again, as deriving them again does."""

        self.transaction(partial(restamp_tables, load=load, names=list(names)))

    def merge_batch(self, load: Load, owners: dict[str, str] | None = None) -> MergeBatch:
        """A batch merging one resource chunk by chunk in one transaction of its own.

        ``with wh.merge_batch(Load(name, account, run_id, loaded_at)) as batch``: call
        ``batch.add(tables)`` per chunk and ``batch.commit(cursor)`` at the end; leaving the
        block without a commit rolls every chunk back. See :class:`MergeBatch`.
        """
        with self._lock:
            con = self.connection.cursor()
        return MergeBatch(
            con, load, owners=owners, lock=self._lock, on_close=self._secure_files, group=self.group
        )

    def write_setting(self, name: str, value: str | None) -> None:
        """Store a choice the views read (``settings``); None removes it."""

        def work(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(f"DELETE FROM {q(SETTINGS.name)} WHERE name = ?", [name])
            if value is not None:
                con.execute(f"INSERT INTO {q(SETTINGS.name)} VALUES (?, ?)", [name, value])

        self.transaction(work)

    def get_state(self, account_id: int, resource: str) -> dict | None:
        """The stored cursor, last success time and last run id of a resource, or None."""
        rows = self.fetch(
            f'SELECT "cursor", "last_success_at", "last_run_id" FROM {q(LOAD_STATE.name)} '
            'WHERE "account_id" = ? AND "resource" = ?',
            [account_id, resource],
        )
        if not rows:
            return None
        [(cursor, success, run_id)] = rows
        cursor = None if cursor is None else json.loads(cursor)
        return {"cursor": cursor, "last_success_at": success, "last_run_id": run_id}

    def fetch(self, sql: str, params: list | None = None) -> list[tuple]:
        """The rows of one query on the working database, safe beside a run's other threads."""
        with self._lock:
            return self.connection.execute(sql, params or []).fetchall()

    def count_rows(self, table: str, account_id: int | None = None) -> int:
        """Rows in ``table``, optionally of one account."""
        where, params = ("", []) if account_id is None else ('WHERE "account_id" = ?', [account_id])
        return int(self.fetch(f"SELECT count(*) FROM {q(table)} {where}", params)[0][0])

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
            as_is = in_published_format(self.connection)
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
            write_published(self.work_db, self.published_db, memory_limit(), as_is=as_is)
            self.publisher.upload_database(self.published_db, self.work_db)
        finally:
            if reopen:
                self._connect()
            else:
                self._secure_files()

    def publish(self, *, reopen: bool = True) -> None:
        """Publish pending Parquet partitions, then the database (see :meth:`publish_database`),
        then copy the raw zone's new runs (with a lake, which is also cleaned once a day)."""
        self.publish_parquet()
        self.publisher.housekeep(self.transaction)
        self.publish_database(reopen=reopen)
        self.publisher.upload_raw(self.data_dir / RAW_DIR)

    def publish_parquet(self, *, wait: bool = True) -> int:
        """Publish every pending partition through the publisher; returns how many. None
        while a rebuild fills the database (``building``), nor without ``wait`` while another
        thread's publish is under way (the run's repair, another account's): they go next."""
        if self.building or not self._publishing.acquire(blocking=wait):
            return 0
        try:
            written = self.transaction(
                lambda con: parquet.publish_pending(con, self.publisher.publish)
            )
            self.published_at = time.monotonic()
            return written
        finally:
            self._publishing.release()

    def check_parquet(self) -> list[str]:
        """Problems of the Parquet datasets (or the lake) against DuckDB; empty when they agree."""
        return [p.message for p in self._problems()]

    def repair_parquet(self) -> list[str]:
        """Publish again every partition :meth:`check_parquet` flags; returns what was fixed.
        In the lake, rows are only added or made newer (see ``Lake.publish``), never removed."""
        with self._publishing:
            problems = self._problems()
            items = {(p.table, p.partition) for p in problems}
            self.transaction(lambda con: parquet.add_pending(con, items))
            self.publish_parquet()
        return [p.message for p in problems]

    def _problems(self) -> list:
        with self._publishing:  # no publish changes the copy meanwhile; merges go on
            with self._lock:
                con = self.connection.cursor()
            try:
                con.begin()  # one snapshot for every read of the check
                return self.publisher.problems(con)
            finally:
                con.close()

    def catch_up(self, accounts: Iterable[int]) -> int:
        """Merge in what the publisher has of ``accounts`` and this database lacks (other
        workers' rows in a lake; see ``warehouse.catchup``); returns how many rows."""
        return self.transaction(lambda con: self.publisher.catch_up(con, accounts))

    def replace_database(self, built: Path) -> None:
        """Rename the checkpointed database ``built`` over the working one and reopen it."""
        with self._lock:
            self.connection.close()
            self._con = None
            try:
                # the old file's log, replayed on the new one, would corrupt it
                self.work_db.with_name(self.work_db.name + ".wal").unlink(missing_ok=True)
                os.replace(built, self.work_db)
                fsync_dir(self.work_db.parent)
                crash_if_asked("rebuild.swapped")
            finally:
                self._connect()
