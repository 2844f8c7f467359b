"""What a worker knows of a lake table after its own last commit: version, log entry, files.

A Delta table's state is its log replayed. After each commit of its own, the worker
notes in its database (setting ``lake_table:<table>``) the version it made, the ETag of
that version's log entry and the files the version holds (path, size, partition values,
rows). The next run lists the log from that version on (one request): when the entry is
still the last and still the same object, the table is exactly as noted, so the run
knows its rows per account and its files without loading it, and a commit of its own
can be written directly at the next version (``warehouse.deltalog``). Any doubt (a later
entry, another ETag, a table of another shape) means a load by the Delta library, as
without a note.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from transforms.catalogue import Table
from warehouse.bookkeeping import SETTINGS
from warehouse.merge import q

if TYPE_CHECKING:
    from deltalake import DeltaTable

# what a commit leaves to note in the warehouse (what the lake now holds), written on its
# connection in the transaction that clears the pending rows
Later = list[Callable[[duckdb.DuckDBPyConnection], None]]
NOTE = "lake_table:"  # settings named <this><table>
# the protocol the lake's tables are created with: a table that asks more of its writers
# (deletion vectors, column mapping, constraints) is written by the library only
PROTOCOL = (1, 2)
PARTITION_TYPES = ("bigint", "date")  # partition values written directly: text as Delta has it


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a version: where, how large, its partition values and rows."""

    path: str
    size: int
    partition: dict[str, str | None]
    rows: int


@dataclass(frozen=True)
class TableState:
    """A version of a lake table as this worker knows it; ``etag`` None: not yet verified."""

    version: int
    etag: str | None
    shape: str  # the schema and partition columns it has (see ``shape_of``)
    files: tuple[DataFile, ...]

    def account_rows(self, by_account: bool) -> dict[int | None, int]:
        """Rows per account (None for a table without one), as ``lakerows.account_rows``."""
        counts: dict[int | None, int] = {}
        for f in self.files:
            value = f.partition.get("account_id") if by_account else None
            key = None if value is None else int(value)
            counts[key] = counts.get(key, 0) + f.rows
        return counts

    def after(self, version: int, etag: str, added: list[DataFile], removed: set[str]):
        """The state a direct commit of ``added`` and ``removed`` makes of this one."""
        kept = tuple(f for f in self.files if f.path not in removed)
        return replace(self, version=version, etag=etag, files=kept + tuple(added))


def shape_of(schema: pa.Schema, partitions: tuple[str, ...]) -> str:
    """A fingerprint of a table's columns, their types and its partition columns."""
    text = json.dumps([[f.name, str(f.type)] for f in schema] + [list(partitions)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def state_of(target: DeltaTable, shape: str, etag: str | None) -> TableState | None:
    """The state of a table the Delta library loaded or committed; None when it has a shape
    or protocol other than this release writes (it is then only written by the library)."""
    protocol = target.protocol()
    if (protocol.min_reader_version, protocol.min_writer_version) != PROTOCOL:
        return None
    if protocol.reader_features or protocol.writer_features:
        return None
    partitions = tuple(target.metadata().partition_columns)
    arrow = pa.schema(target.schema().to_arrow())
    if shape_of(arrow, partitions) != shape:
        return None
    actions = pa.table(target.get_add_actions(flatten=False)).to_pylist()
    files = tuple(
        DataFile(a["path"], int(a["size_bytes"]), _partition(a, partitions), int(a["num_records"]))
        for a in actions
    )
    return TableState(target.version(), etag, shape, files)


def _partition(action: dict, partitions: tuple[str, ...]) -> dict[str, str | None]:
    values = action.get("partition") or {}
    return {c: None if values.get(c) is None else _text(values[c]) for c in partitions}


def _text(value: object) -> str:
    """A partition value as Delta writes it in the log (numbers and dates)."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def noted_states(con: duckdb.DuckDBPyConnection) -> dict[str, TableState]:
    """Every table's state as this worker's last commit to it left it."""
    rows = con.execute(
        f"SELECT name, value FROM {q(SETTINGS.name)} WHERE starts_with(name, ?)", [NOTE]
    ).fetchall()
    found = {}
    for name, value in rows:
        note = json.loads(value)
        files = tuple(DataFile(p, s, v, r) for p, s, v, r in note["files"])
        found[name.removeprefix(NOTE)] = TableState(
            note["version"], note["etag"], note["shape"], files
        )
    return found


def note_state(con: duckdb.DuckDBPyConnection, table: Table, state: TableState | None) -> None:
    """Note ``state`` as the table's after this worker's commit (None: forget the note)."""
    name = f"{NOTE}{table.name}"
    if state is None or state.etag is None:
        con.execute(f"DELETE FROM {q(SETTINGS.name)} WHERE name = ?", [name])
        return
    note = {
        "version": state.version,
        "etag": state.etag,
        "shape": state.shape,
        "files": [[f.path, f.size, f.partition, f.rows] for f in state.files],
    }
    con.execute(
        f"INSERT OR REPLACE INTO {q(SETTINGS.name)} VALUES (?, ?)", [name, json.dumps(note)]
    )
