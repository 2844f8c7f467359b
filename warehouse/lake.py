"""The lake: every published table as a Delta Lake table under the storage URL.

Object stores have no atomic rename, so a table's change is published as one Delta
commit: new Parquet files first, then one log entry created only if absent. Readers
(DuckDB, Polars, Spark, Trino) read the last committed version and never see half a
change; two writers racing for the same entry are ordered by the store, the loser
checks for a conflict and commits next. ``deltalake`` is imported only by the lake modules.
A table whose state this worker's last commit noted, verified still the last by one
listing, is not loaded: appends and replaces of its files are written directly
(``warehouse.lakedirect``), the rest by the library.

Scopes: tables with an ``account_id`` are partitioned by it in the lake, and a worker
writes only the accounts whose leases it holds (:attr:`Lake.held`). Snapshots and
history are merged on their key and never deleted: a row stays until a run of its
account writes a newer state of it (a later ``_loaded_at``), so rows other workers
wrote (other snapshots, imported reports) stay. The derived tables of a held account
are replaced, as each derivation replaces them. Reference lists (no account) are
replaced whole; the run logs are merged on their key, so every worker's runs stay.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING

import duckdb

from transforms.catalogue import Table, TableKind
from warehouse.bookkeeping import MERGED_KINDS, record_synced
from warehouse.deltalog import DirectConflict
from warehouse.increments import increment, record_sent
from warehouse.lakedirect import Direct, replace_scope
from warehouse.lakerows import (
    account_rows,
    advance,
    commit_hooks,
    count_problems,
    lake_partitions,
    merge_rows,
    per_account,
    table_reader,
)
from warehouse.lakestate import Later
from warehouse.merge import q
from warehouse.objectstore import ObjectStore, ObjectStoreError, delta_options, first_line
from warehouse.scopes import (
    WHOLE_TABLE,
    duckdb_scope,
    held_partitions,
    scope_accounts,
    scope_predicate,
)

if TYPE_CHECKING:
    from deltalake import DeltaTable

log = logging.getLogger("t212_etl")

TABLES_PREFIX = "tables"
COMMIT_ATTEMPTS = 8
VACUUM_EVERY = timedelta(days=1)  # the clean-up runs at most once a day per worker
# A load reads the last checkpoint (about 11 ranged GETs) and each entry since (two GETs
# each): Delta's default of a checkpoint every 100 commits would read up to 99 entries a
# load. Every 5 instead of 10 saves 4 % of a weeks-old table's requests a night with the
# daily clean-up (64 against 67 on moto) but costs more in its first weeks: kept at 10.
TABLE_CONFIGURATION = {"delta.checkpointInterval": "10"}
# the Delta library's own logger would print AWS credential-chain probes as warnings
os.environ.setdefault("RUST_LOG", "error")


class LakeError(ObjectStoreError):
    """A table could not be published to the lake; its changes stay pending."""


class LakeConflict(LakeError):
    """A table's commit lost to other writers every time it was tried."""


class Lake:
    """The Delta tables under one storage URL."""

    def __init__(
        self, url: str, name: str = "warehouse", *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.url = url.rstrip("/")
        self.name = name  # the worker's published database is duckdb/<name>.duckdb
        self.options = delta_options(self.url)
        self.commits = 0
        self._counting = threading.Lock()  # commits are counted from several threads
        # the accounts whose leases this process holds (see ``LakePublisher.held``): the only
        # ones it writes; None, as without leases, writes no account's rows
        self.held: frozenset[int] | None = None
        self._sleep = sleep
        # each table loaded once a run: a load replays its log (a LIST and several GETs), and
        # the library moves a table it wrote to the version it committed; None: none yet
        self._tables: dict[str, DeltaTable | None] = {}

    @cached_property
    def store(self) -> ObjectStore:
        """The object store under the same URL (raw zone, databases, leases)."""
        return ObjectStore(self.url)

    @cached_property
    def direct(self) -> Direct:
        """The tables as this worker's notes know them, and its direct commits: on a store
        whose Delta commits are puts only if absent (S3 without a lock table)."""
        enabled = self.options.get("AWS_CONDITIONAL_PUT") == "etag"
        return Direct(self.store, TABLES_PREFIX, enabled=enabled)

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    def table_uri(self, name: str) -> str:
        """Where the Delta table ``name`` lives."""
        return f"{self.url}/{TABLES_PREFIX}/{name}"

    def publish(
        self, con: duckdb.DuckDBPyConnection, table: Table, partitions: list[str]
    ) -> list[str]:
        """Publish the pending ``partitions`` of ``table`` in one Delta commit; returns the
        ones published (those of accounts this worker holds no lease for stay pending).

        Refused (an ``ObjectStoreError``) while the store is taken as unreachable or once
        this process may no longer write: a lease it held is lost (see ``ObjectStore.guard``).
        """
        done, later = self.publish_table(con, table, partitions)
        for note in later:
            note(con)
        return done

    def publish_table(
        self, read: duckdb.DuckDBPyConnection, table: Table, partitions: list[str]
    ) -> tuple[list[str], Later]:
        """:meth:`publish`, reading the rows through ``read`` and writing nothing to it:
        returns the partitions published and what the commit leaves to note in the
        warehouse, for the caller to write in its transaction (``warehouse.lakebatch``)."""
        if table.kind == TableKind.LOG:
            ensure = partial(self._ensure, table)
            return partitions, self._attempt(
                table, lambda: self.direct.upsert_log(read, table, ensure)
            )
        if not per_account(table):
            # a predicate, even TRUE, makes the commit read the files it replaces: a worker
            # that replaced the list meanwhile is a conflict, and the write is tried again
            # on the new version; without one, both copies would stay (a blind append)
            return partitions, self._attempt(
                table, lambda: self._overwrite(read, table, "TRUE", set())
            )
        held = self.held or frozenset()
        mine = held_partitions(table, partitions, held)
        if not mine:
            return [], []
        if table.kind in MERGED_KINDS:
            return mine, self._attempt(table, lambda: self._merge(read, table, mine, held))
        predicate = scope_predicate(table, mine, held)
        accounts = scope_accounts(table, mine, held)
        return mine, self._attempt(table, lambda: self._overwrite(read, table, predicate, accounts))

    def _attempt(self, table: Table, write: Callable[[], Later | None]) -> Later:
        """Run ``write``, returning what it leaves to note; a commit that conflicts with
        another writer's is tried again."""
        from deltalake.exceptions import CommitFailedError

        for attempt in itertools.count(1):  # the last attempt's conflict raises
            self.store.guard()  # before every try: the lease may have run out meanwhile
            try:
                later = write()
            except (duckdb.Error, LakeError):
                self.forget(table.name)
                raise
            except (CommitFailedError, DirectConflict) as exc:
                self.forget(table.name)  # the next try reads the versions that won
                if attempt == COMMIT_ATTEMPTS:
                    raise LakeConflict(
                        f"{self.table_uri(table.name)}: the commit conflicted with other "
                        f"writers {attempt} times ({str(exc).splitlines()[0][:160]}); "
                        "it stays pending for the next run"
                    ) from None
                self._sleep(random.uniform(0.05, 0.2 * 2**attempt))
            except Exception as exc:  # the Delta library's own errors, worded for the user
                self.forget(table.name)
                raise self._failed(
                    f"publishing {table.name} to {self.table_uri(table.name)} failed "
                    f"({first_line(exc)}); check the storage URL and credentials, "
                    "the changes stay pending for the next run"
                ) from None
            else:
                with self._counting:
                    self.commits += 1
                return later or []

    def load(self, name: str) -> None:
        """Know the table ``name`` as it is now: its note verified by one listing, or else
        loaded by the library (``open_table``)."""
        if self.store.down is not None:
            raise LakeError(self.store.down)
        self.forget(name)
        try:
            verified = self.direct.verify(name)
        except ObjectStoreError as exc:
            raise self._failed(str(exc)) from None
        if not verified:
            self.open_table(name)

    def open_table(self, name: str) -> DeltaTable | None:
        """The Delta table ``name`` at its last commit, or None when the lake has none yet."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        if self.store.down is not None:
            raise LakeError(self.store.down)
        try:
            self._tables[name] = DeltaTable(self.table_uri(name), storage_options=self.options)
            return self._tables[name]
        except TableNotFoundError:
            self._tables[name] = None  # created by this worker's first commit to it
            return None
        except Exception as exc:  # no credentials, no bucket: one line, not the library's tree
            raise self._failed(
                f"cannot read {self.table_uri(name)} ({first_line(exc)}); check "
                "the storage URL and that the credentials may read it"
            ) from None

    def missing(self, tables: Iterable[Table]) -> list[Table]:
        """Those of ``tables`` this worker found the lake without (see :meth:`create`)."""
        return [t for t in tables if t.name in self._tables and self._tables[t.name] is None]

    def create(self, table: Table) -> Later:
        """Create ``table`` empty: a table with no rows (``activity`` without reports) gets
        no commit of its own, and the lake's readers find every table after a run whatever
        the order of its steps. Returns the notes of the table made."""
        return self._attempt(table, lambda: self._create(table))

    def _create(self, table: Table) -> Later:
        target = self._ensure(table)
        notes = [self.direct.note(table, self.direct.learn(table, target))]
        if target.version() == 0:  # the empty table as created: every account holds all of it
            notes.append(lambda con: record_synced(con, table.name, self.held or (), 0))
        return notes

    def kept(self, name: str) -> DeltaTable | None:
        """The table ``name`` as this worker last loaded or committed it (see ``open_table``):
        a commit on a version older than another worker's is checked for conflicts by the
        library and, when it conflicts, tried again on a reload."""
        if self.store.down is not None:
            raise LakeError(self.store.down)
        if name in self._tables:
            return self._tables[name]
        return self.open_table(name)

    def is_kept(self, name: str) -> bool:
        """Whether the table ``name`` is loaded or its note verified (see :meth:`load`)."""
        return name in self._tables or name in self.direct.known

    def forget(self, name: str) -> None:
        """Read the table ``name`` again at its next use (after a failed or conflicting write)."""
        self._tables.pop(name, None)
        self.direct.forget(name)

    def version(self, name: str) -> int | None:
        """The table's version as this worker knows it, None when the lake has none."""
        known = self.direct.known.get(name)
        if known is not None:
            return known.version
        target = self.kept(name)
        return None if target is None else target.version()

    def _failed(self, message: str) -> LakeError:
        """The error of a failed Delta call; the lake is not called again until the store's
        ``reconnect``, and every failure until then reads as the first (one line a run)."""
        return LakeError(self.store.mark_down(message))

    def _ensure(self, table: Table) -> DeltaTable:
        """The table, created empty first when the lake has none (one log read either way)."""
        from deltalake import DeltaTable

        target = self.kept(table.name)
        if target is not None:
            return target
        self._tables[table.name] = DeltaTable.create(
            self.table_uri(table.name),
            table.arrow_schema(),
            partition_by=list(lake_partitions(table)) or None,
            mode="ignore",
            storage_options=self.options,
            configuration=TABLE_CONFIGURATION,
            post_commithook_properties=commit_hooks(),
        )
        return self._tables[table.name]

    def _overwrite(
        self, con: duckdb.DuckDBPyConnection, table: Table, predicate: str, accounts: set[int]
    ) -> Later:
        """Replace the rows ``predicate`` scopes (the files of ``accounts``, or every file of
        a table without one) by DuckDB's: directly when the note allows, else by the library."""
        from deltalake import write_deltalake

        if predicate == "FALSE":
            if table.name not in self.direct.known:  # a table known to exist needs no load
                self._ensure(table)
            return []
        where = duckdb_scope(predicate)
        state, scope = self.direct.usable(table), replace_scope(table, accounts)
        if state is not None and scope is not False:
            made = self.direct.replace(con, table, state, where, scope)
            return [self.direct.note(table, made)]
        target = self._ensure(table)
        reader = table_reader(con, table, where)
        try:
            write_deltalake(
                target,
                reader,
                mode="overwrite",
                predicate=predicate,
                partition_by=list(lake_partitions(table)) or None,
                post_commithook_properties=commit_hooks(),
            )
        finally:
            reader.close()
        return [self.direct.note(table, self.direct.learn(table, target))]

    def _merge(
        self, con: duckdb.DuckDBPyConnection, table: Table, partitions: list[str], held: frozenset
    ) -> Later:
        """Send the local rows of ``partitions`` changed since this worker's last commit
        (``warehouse.increments``): appended when none can be in the lake yet, else merged
        on the key: new rows are added, a row is replaced only by a newer state of it, and
        nothing is deleted. Returns the notes of what the lake then holds."""
        from deltalake import write_deltalake

        state = self.direct.usable(table)  # a verified note: appends are written directly
        target = None if state is not None else self._ensure(table)
        before = state.version if target is None else target.version()
        lake_rows = state.account_rows(True) if target is None else account_rows(target, table)
        accounts = scope_accounts(table, partitions, held)
        scope = duckdb_scope(scope_predicate(table, partitions, held))
        sent = increment(con, table, accounts, lake_rows, whole=WHOLE_TABLE in partitions)
        where = f"({scope}) AND ({sent.where})"
        rows = con.execute(f"SELECT count(*) FROM {q(table.name)} WHERE {where}").fetchall()[0][0]
        log.debug("lake: %s, %s %d rows", table.name, "append" if sent.append else "merge", rows)
        made = state
        if rows and sent.append and state is not None:
            made = self.direct.append(con, table, state, where)
        elif rows:
            target = target or self._ensure(table)
            reader = table_reader(con, table, where)
            try:
                if sent.append:
                    write_deltalake(
                        target,
                        reader,
                        mode="append",
                        partition_by=list(lake_partitions(table)),
                        post_commithook_properties=commit_hooks(),
                    )
                else:
                    merge_rows(target, table, reader, partitions, held)
            finally:
                reader.close()
            made = self.direct.learn(table, target)
        if made is not None:
            after, lake_rows = made.version, made.account_rows(True)
        else:
            assert target is not None  # no note: the library loaded the table
            after, lake_rows = target.version(), account_rows(target, table)
        notes: Later = [lambda book: record_sent(book, table, accounts, lake_rows)]
        if rows:
            notes.insert(0, lambda book: advance(book, table.name, before, after, accounts))
            notes.append(self.direct.note(table, made))
        return notes

    def counts(self, table: Table) -> dict[int | None, int] | None:
        """Rows per account (None for a table without one) in the lake's current version,
        read from the commit log's statistics, not the data; None when there is no table."""
        known = self.direct.known.get(table.name)
        if known is not None:
            return known.account_rows(per_account(table))
        target = self.kept(table.name)
        return None if target is None else account_rows(target, table)

    def problems(self, con: duckdb.DuckDBPyConnection, table: Table) -> list[str]:
        """How the lake's copy of ``table`` differs from DuckDB in row counts, per account."""
        return count_problems(con, table, self.counts(table), self.table_uri(table.name), self.held)
