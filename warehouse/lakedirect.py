"""The lake's tables as this worker last left them, and the commits it writes directly.

A :class:`Direct` belongs to a :class:`~warehouse.lake.Lake`. It reads the worker's notes
(``warehouse.lakestate``) once a run, verifies a table's note with one listing before the
table's first use, and from then on knows the table's version, files and rows per account
without the Delta library loading it. An append, or a replace of the held accounts' files,
is then written directly (``warehouse.deltalog``): two requests, the data file and the log
entry; so are this worker's new and last runs in the run log (``warehouse.lakelog``).
Everything else (merges of changed rows, an older run changed, a table without a verified
note, a store without a create-if-absent put) is left to the library; after a library
commit, one request reads the ETag of the entry it made, so the next commit can be direct.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import duckdb

from transforms.catalogue import Table
from warehouse import lakelog
from warehouse.deltalog import commit, directly_writable, log_prefix, still_last, write_files
from warehouse.lakelog import LogPlan
from warehouse.lakerows import lake_partitions, merge_into, per_account, table_reader
from warehouse.lakestate import (
    DataFile,
    Later,
    TableState,
    note_state,
    noted_states,
    shape_of,
    state_of,
)
from warehouse.merge import q
from warehouse.objectstore import ObjectStoreError

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from warehouse.objectstore import ObjectStore


def shape(table: Table) -> str:
    """The shape a lake table of ``table`` has when this release created it."""
    return shape_of(table.arrow_schema(), lake_partitions(table))


class Direct:
    """Verified states of a lake's tables and the direct commits made from them."""

    def __init__(self, store: ObjectStore, prefix: str, *, enabled: bool) -> None:
        self.store = store
        self.prefix = prefix  # the tables' folder under the storage URL
        self.enabled = enabled  # the store creates objects only if absent, as Delta's commits
        self.noted: dict[str, TableState] | None = None  # read from the database once a run
        self.known: dict[str, TableState] = {}  # verified this run: listed, or committed
        self._reading = threading.Lock()

    def recall(self, con: duckdb.DuckDBPyConnection) -> None:
        """Read the notes this worker's last commits left (once a run)."""
        with self._reading:
            if self.noted is None:
                self.noted = noted_states(con) if self.enabled else {}

    def verify(self, name: str) -> bool:
        """Whether the note of ``name`` still describes the lake's table (one listing)."""
        state = (self.noted or {}).get(name)
        if state is None or not self.enabled:
            return False
        if not still_last(self.store, self._table(name), state):
            return False
        self.known[name] = state
        return True

    def forget(self, name: str) -> None:
        """Drop what is known of ``name``: it is loaded by the library at its next use."""
        self.known.pop(name, None)

    def usable(self, table: Table) -> TableState | None:
        """The verified state a direct commit to ``table`` starts from, or None."""
        state = self.known.get(table.name)
        partitions = lake_partitions(table)
        if state is None or state.etag is None or state.shape != shape(table):
            return None
        return state if directly_writable(table, partitions) else None

    def append(
        self, con: duckdb.DuckDBPyConnection, table: Table, state: TableState, where: str
    ) -> TableState:
        """Append the rows ``where`` selects in one direct commit."""
        added = write_files(self.store, self._table(table.name), con, table, where,
                            lake_partitions(table))  # fmt: skip
        return self._commit(table, state, added, [], {"mode": "Append"})

    def replace(
        self,
        con: duckdb.DuckDBPyConnection,
        table: Table,
        state: TableState,
        where: str,
        accounts: set[int] | None,
    ) -> TableState:
        """Replace the files of ``accounts`` (every file: None) by the rows ``where`` selects."""
        removed = [f for f in state.files if accounts is None or _account(f) in accounts]
        added = write_files(self.store, self._table(table.name), con, table, where,
                            lake_partitions(table))  # fmt: skip
        return self._commit(table, state, added, removed, {"mode": "Overwrite"})

    def send_log(
        self, con: duckdb.DuckDBPyConnection, table: Table, state: TableState, step: LogPlan
    ) -> tuple[TableState, DataFile] | None:
        """The run log's rows after ``step.start`` in one direct commit that replaces the
        file ``step.removed`` (see ``warehouse.lakelog``): the state and the file written,
        or None when there is nothing to send."""
        rows = con.execute(f"SELECT count(*) FROM {q(table.name)} WHERE {step.where}").fetchall()
        if not rows[0][0] and step.removed is None:
            return None
        added = write_files(self.store, self._table(table.name), con, table, step.where, ())
        removed = [] if step.removed is None else [step.removed]
        mode = "Append" if step.removed is None else "Overwrite"
        return self._commit(table, state, added, removed, {"mode": mode}), added[0]

    def upsert_log(
        self, read: duckdb.DuckDBPyConnection, table: Table, ensure: Callable[[], DeltaTable]
    ) -> Later:
        """Bring the lake's copy of this worker's runs up to date (``warehouse.lakelog``):
        directly when its note allows, else by the library merging every row on the key
        into the table ``ensure`` loads. Returns the notes to write."""
        state = self.usable(table)
        step = lakelog.plan(read, table, lakelog.read_note(read, table), state)
        if step is not None and state is not None:
            sent = self.send_log(read, table, state, step)
            if sent is None:
                return []  # nothing new, nothing changed: the notes stay as they are
            made = sent[0]
            note = lakelog.describe(read, table, made, step.start, sent[1])
        else:
            target = ensure()
            data = table_reader(read, table, "TRUE").read_all()
            merge_into(target, data, " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in table.key))
            made = self.learn(table, target)
            note = lakelog.describe(read, table, made, None, None)
        return [self.note(table, made), lambda con: lakelog.write_note(con, table, note)]

    def learn(self, table: Table, target: DeltaTable) -> TableState | None:
        """After a library commit: the state it made, with its entry's ETag (one request);
        None when the table is not one direct commits may write."""
        state = state_of(target, shape(table), None) if self.enabled else None
        if state is None:
            self.known.pop(table.name, None)
            return None
        key = f"{log_prefix(self._table(table.name))}{state.version:020}.json"
        try:
            etag = self.store.etag(key)
        except ObjectStoreError:  # the commit is made; only the next one is not direct
            etag = None
        state = TableState(state.version, etag, state.shape, state.files)
        self.known[table.name] = state
        return state

    def note(
        self, table: Table, state: TableState | None
    ) -> Callable[[duckdb.DuckDBPyConnection], None]:
        """What to write in the warehouse after a commit that made ``state``."""
        return lambda con: note_state(con, table, state)

    def _commit(
        self,
        table: Table,
        state: TableState,
        added: list[DataFile],
        removed: list[DataFile],
        parameters: dict[str, str],
    ) -> TableState:
        made = commit(self.store, self._table(table.name), state, added, removed, parameters)
        self.known[table.name] = made
        return made

    def _table(self, name: str) -> str:
        return f"{self.prefix}/{name}"


def _account(f: DataFile) -> int | None:
    value = f.partition.get("account_id")
    return None if value is None else int(value)


def replace_scope(table: Table, accounts: set[int]) -> set[int] | bool | None:
    """The accounts whose files a direct replace of ``table`` removes: None for every file
    (a reference list); False when the table's partitions are finer than an account."""
    if not per_account(table):
        return None
    return accounts if lake_partitions(table) == ("account_id",) else False
