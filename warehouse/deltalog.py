"""Delta commits written directly: new Parquet files, then one log entry put only if absent.

The Delta library loads a table before each write (its last checkpoint and every log
entry since: about 7 requests) and reads its own entry back after (3 more). When the
worker's note of its last commit is verified (``warehouse.lakestate``), it knows the
table's state already, and an append, or a replace of its own accounts' files, is what
Delta defines a commit to be: Parquet files, then the log entry of the next version,
created only if absent. A writer that committed that version meanwhile makes the put
fail (:class:`DirectConflict`); the commit is then left to the library, which reads the
versions that won and checks them for conflicts. Files put by a commit that lost stay
unreferenced, invisible to readers, until the vacuum deletes them.

Files carry the row count in their statistics, which is what this program reads of
them; the daily compaction rewrites the files of history and snapshots with the
library's full statistics (minimum, maximum, nulls), which readers use to skip files.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import uuid
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.catalogue import Table
from warehouse.lakerows import table_reader
from warehouse.lakestate import PARTITION_TYPES, DataFile, TableState
from warehouse.merge import q

if TYPE_CHECKING:
    from warehouse.objectstore import ObjectStore

_ENTRY = re.compile(r"(\d{20})\.json")
SPOOL_BYTES = 32 * 2**20  # a file larger than this is written to a private temporary file
ENGINE = "t212-etl"


class DirectConflict(Exception):
    """Another writer made the version a direct commit was to make."""


def log_prefix(prefix: str) -> str:
    return f"{prefix}/_delta_log/"


def still_last(store: ObjectStore, prefix: str, state: TableState) -> bool:
    """Whether ``state``'s log entry is still the table's last and the same object: one
    listing from that version on (its checkpoint, its entry, any later, ``_last_checkpoint``)."""
    log = log_prefix(prefix)
    found = dict(store.entries(log, after=f"{log}{state.version:020}."))
    for key in found:
        entry = _ENTRY.fullmatch(key.removeprefix(log))
        if entry and int(entry.group(1)) > state.version:
            return False
    return state.etag is not None and found.get(f"{log}{state.version:020}.json") == state.etag


def directly_writable(table: Table, partitions: tuple[str, ...]) -> bool:
    """Whether rows of ``table`` may be written directly: partition values of known types."""
    return all(table.column(c).type in PARTITION_TYPES for c in partitions)


def write_files(
    store: ObjectStore,
    prefix: str,
    con: duckdb.DuckDBPyConnection,
    table: Table,
    where: str,
    partitions: tuple[str, ...],
) -> list[DataFile]:
    """One Parquet file of the rows of ``table`` that ``where`` selects per partition."""
    cols = ", ".join(q(c) for c in partitions)
    groups = (
        con.execute(f"SELECT DISTINCT {cols} FROM {q(table.name)} WHERE {where}").fetchall()
        if partitions
        else [()]
    )
    return [
        _write_file(store, prefix, con, table, where, dict(zip(partitions, g, strict=True)))
        for g in groups
    ]


def _write_file(
    store: ObjectStore,
    prefix: str,
    con: duckdb.DuckDBPyConnection,
    table: Table,
    where: str,
    values: dict[str, object],
) -> DataFile:
    if any(v is None for v in values.values()):
        raise DirectConflict(f"{table.name}: a NULL partition value is left to the library")
    # typed values from DuckDB (numbers, dates) as literals: no text reaches the SQL as is
    text = {c: v.isoformat() if isinstance(v, date) else str(int(v)) for c, v in values.items()}
    literal = {c: f"DATE '{v}'" if isinstance(values[c], date) else v for c, v in text.items()}
    scope = " AND ".join([f"({where})"] + [f"{q(c)} = {literal[c]}" for c in text])
    path = "".join(f"{c}={v}/" for c, v in text.items())
    path += f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    reader = table_reader(con, table, scope)
    schema = pa.schema([f for f in reader.schema if f.name not in text])
    rows = 0
    with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as sink:
        with pq.ParquetWriter(sink, schema, compression="snappy") as out:
            for batch in reader:
                out.write_batch(batch.select(schema.names))
                rows += batch.num_rows
        size = sink.tell()
        sink.seek(0)
        store.put_reader(f"{prefix}/{path}", sink)
    return DataFile(path, size, dict(text), rows)


def commit(
    store: ObjectStore,
    prefix: str,
    state: TableState,
    added: list[DataFile],
    removed: list[DataFile],
    parameters: dict[str, str],
) -> TableState:
    """Make version ``state.version + 1`` of the files ``added`` and ``removed``; the state
    it makes. Raises :class:`DirectConflict` when another writer made that version."""
    now = int(time.time() * 1000)
    info = {
        "timestamp": now,
        "operation": "WRITE",
        "operationParameters": parameters,
        "isBlindAppend": not removed,
        "operationMetrics": {
            "num_added_files": len(added),
            "num_removed_files": len(removed),
            "num_added_rows": sum(f.rows for f in added),
            "num_removed_rows": sum(f.rows for f in removed),
        },
        "clientVersion": ENGINE,
    }
    actions: list[dict] = [{"commitInfo": info}]
    actions += [
        {
            "remove": {
                "path": f.path,
                "dataChange": True,
                "deletionTimestamp": now,
                "extendedFileMetadata": True,
                "partitionValues": f.partition,
                "size": f.size,
            }
        }
        for f in removed
    ]
    actions += [
        {
            "add": {
                "path": f.path,
                "partitionValues": f.partition,
                "size": f.size,
                "modificationTime": now,
                "dataChange": True,
                "stats": json.dumps({"numRecords": f.rows}),
            }
        }
        for f in added
    ]
    version = state.version + 1
    data = "".join(json.dumps(a, separators=(",", ":")) + "\n" for a in actions).encode()
    made = store.create(f"{log_prefix(prefix)}{version:020}.json", data)
    if made is None or "e_tag" not in made:
        raise DirectConflict(f"{prefix}: version {version} was made by another writer")
    return state.after(version, made["e_tag"], added, {f.path for f in removed})
