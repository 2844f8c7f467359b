"""Parquet datasets: publishing pending partitions atomically, checking and repairing them.

Layout: ``parquet/<table>/<col>=<value>/.../data.parquet`` (Hive partitioning by
the table's ``partition_by``, partition columns left out of the file), or
``parquet/<table>/data.parquet`` for an unpartitioned table, which is always
written even when empty so readers find its schema. A pending row whose
partition is ``*`` stands for the whole table: every partition is rewritten and
files of partitions no longer in DuckDB are removed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.catalogue import TABLES, Table
from warehouse.bookkeeping import PENDING_PUBLISH, PUBLISHED_LOGS
from warehouse.files import atomic_path, escape_component, remove_file, unescape_component
from warehouse.merge import partition_json, q

PARQUET_DIR = "parquet"
FILE_NAME = "data.parquet"
WHOLE_TABLE = "*"
BATCH_ROWS = 100_000
STATEMENT_ROWS = 500  # pending rows written or cleared by one statement
_PENDING_COLS = '"table_name", "partition_values"'
PUBLISHED: dict[str, Table] = {**TABLES, **{t.name: t for t in PUBLISHED_LOGS}}


@dataclass(frozen=True)
class Problem:
    """A Parquet file that does not match DuckDB, or work still pending."""

    table: str
    partition: str
    message: str
    # False for a file newer than the database copy it was compared with: a run is
    # publishing, or stopped before it published the database; not a fault.
    alarm: bool = True


def partition_path(root: Path, table: Table, partition: str) -> Path:
    """The data file of one partition (given as its JSON text)."""
    values = json.loads(partition)
    parts = [f"{escape_component(c)}={escape_component(values[c])}" for c in table.partition_by]
    return Path(root) / escape_component(table.name) / Path(*parts) / FILE_NAME


def _file_schema(table: Table) -> pa.Schema:
    schema = table.arrow_schema()
    return pa.schema([f for f in schema if f.name not in table.partition_by])


def _where(table: Table) -> str:
    conds = [f"CAST({q(c)} AS VARCHAR) = ?" for c in table.partition_by]
    return " AND ".join(conds) if conds else "TRUE"


def write_partition(
    con: duckdb.DuckDBPyConnection, root: Path, table: Table, partition: str
) -> int:
    """Write one partition from DuckDB to its file atomically; an empty partition is removed."""
    schema = _file_schema(table)
    params = list(json.loads(partition).values())
    cols = ", ".join(q(f.name) for f in schema)
    # Streamed in batches and unsorted, so a partition of millions of rows is never whole
    # in memory (a sort would hold it); readers order by the key when order matters.
    sql = f"SELECT {cols} FROM {q(table.name)} WHERE {_where(table)}"
    reader = con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
    try:
        return _write(reader, partition_path(root, table, partition), schema, table, root)
    finally:
        reader.close()  # a result left open (a failed write) would block the rollback


def _write(
    reader: pa.RecordBatchReader, path: Path, schema: pa.Schema, table: Table, root: Path
) -> int:
    batches = iter(reader)
    first = next(batches, None)
    if (first is None or first.num_rows == 0) and table.partition_by:
        remove_file(path, stop_at=Path(root) / escape_component(table.name))
        return 0
    rows = 0
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for batch in itertools.chain([first], batches) if first is not None else ():
            writer.write_table(pa.Table.from_batches([batch]).cast(schema))
            rows += batch.num_rows
    return rows


def expected_partitions(con: duckdb.DuckDBPyConnection, table: Table) -> dict[str, int]:
    """Row counts per partition of ``table`` in DuckDB."""
    if not table.partition_by:
        return {"{}": _scalar(con, f"SELECT count(*) FROM {q(table.name)}")}
    cols = ", ".join(f"CAST({q(c)} AS VARCHAR)" for c in table.partition_by)
    rows = con.execute(f"SELECT {cols}, count(*) FROM {q(table.name)} GROUP BY ALL").fetchall()
    return {partition_json(table, row[:-1]): row[-1] for row in rows}


def existing_partitions(root: Path, table: Table) -> dict[str, Path]:
    """Partition files present on disk for ``table``, by partition JSON."""
    base = Path(root) / escape_component(table.name)
    found = {}
    for path in base.glob("/".join(["*"] * len(table.partition_by) + [FILE_NAME])):
        parts = path.relative_to(base).parts[:-1]
        values = [p.split("=", 1) for p in parts]
        if all(len(v) == 2 for v in values):
            names = [unescape_component(v[0]) for v in values]
            if tuple(names) == table.partition_by:
                found[partition_json(table, tuple(unescape_component(v[1]) for v in values))] = path
    return found


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def publish_table(con: duckdb.DuckDBPyConnection, root: Path, table: Table) -> None:
    expected = expected_partitions(con, table)
    for partition in expected:
        write_partition(con, root, table, partition)
    for partition, path in existing_partitions(root, table).items():
        if partition not in expected:
            remove_file(path, stop_at=Path(root) / escape_component(table.name))


def publish_pending(
    con: duckdb.DuckDBPyConnection,
    publish: Callable[
        [duckdb.DuckDBPyConnection, list[tuple[Table, list[str]]]], list[tuple[str, str]]
    ],
) -> int:
    """Publish every pending partition by ``publish`` (a publisher's: each table in a
    commit or files of its own), then clear the pending rows of those it published;
    returns how many.

    A lake publishes only the accounts whose leases this worker holds: the others' rows
    stay pending (see ``Lake.publish``).
    """
    pending = q(PENDING_PUBLISH.name)
    rows = con.execute(f"SELECT {_PENDING_COLS} FROM {pending} ORDER BY ALL").fetchall()
    grouped = itertools.groupby(rows, key=lambda row: row[0])
    rows = publish(con, [(PUBLISHED[name], [p for _, p in group]) for name, group in grouped])
    # Cleared only once every file is in place, and only at the commit of this transaction:
    # a crash before it leaves the rows pending and the next publish rewrites the partitions.
    for batch in _batches(rows):
        con.execute(
            f"DELETE FROM {pending} WHERE ({_PENDING_COLS}) IN (VALUES {_marks(batch)})",
            [value for row in batch for value in row],
        )
    return len(rows)


def add_pending(con: duckdb.DuckDBPyConnection, items: set[tuple[str, str]]) -> None:
    """Record partitions (table name, partition JSON) that must be published."""
    for batch in _batches(sorted(items)):
        con.execute(
            f"INSERT OR IGNORE INTO {q(PENDING_PUBLISH.name)} VALUES {_marks(batch)}",
            [value for row in batch for value in row],
        )


def _batches(rows: list) -> list[list]:
    """Rows cut into statements: each statement costs milliseconds, whatever its length."""
    return [rows[start : start + STATEMENT_ROWS] for start in range(0, len(rows), STATEMENT_ROWS)]


def _marks(pairs: list) -> str:
    return ", ".join("(?, ?)" for _ in pairs)


def _check_file(path: Path, table: Table, rows: int | None) -> str | None:
    """Why the file is unusable, or holds another row count than ``rows`` (when given)."""
    try:
        data = pq.read_table(path)
    except Exception as exc:  # any decoding failure means the file is unusable
        return f"unreadable ({type(exc).__name__})"
    if data.schema.names != _file_schema(table).names:
        return "columns differ from the catalogue"
    if rows is not None and data.num_rows != rows:
        return f"has {data.num_rows} rows, DuckDB has {rows}"
    return None


def _newer(path: Path, than: float | None) -> bool:
    try:
        return than is not None and path.stat().st_mtime > than
    except FileNotFoundError:
        return False


def find_problems(
    con: duckdb.DuckDBPyConnection, root: Path, newer_than: float | None = None
) -> list[Problem]:
    """Compare every published table's files with DuckDB: missing, unreadable, stale, stray.

    Files modified after ``newer_than`` (the time of the database copy ``con`` reads)
    were published after it; their rows are not compared, and they are reported
    without alarm.
    """
    problems = []
    pending = con.execute(f"SELECT {_PENDING_COLS} FROM {q(PENDING_PUBLISH.name)}")
    for name, partition in pending.fetchall():
        problems.append(Problem(name, partition, "changes not yet published"))
    later = "newer than the database copy"
    for table in PUBLISHED.values():
        expected = expected_partitions(con, table)
        existing = existing_partitions(root, table)
        for partition, rows in expected.items():
            path = partition_path(root, table, partition)
            newer = _newer(path, newer_than)
            if partition not in existing:
                if rows or table.partition_by:
                    problems.append(Problem(table.name, partition, f"{path}: missing"))
            elif (issue := _check_file(path, table, None if newer else rows)) is not None:
                problems.append(Problem(table.name, partition, f"{path}: {issue}"))
            elif newer:
                problems.append(Problem(table.name, partition, f"{path}: {later}", alarm=False))
        for partition, path in existing.items():
            if partition not in expected:
                newer = _newer(path, newer_than)
                message = later if newer else "not in DuckDB"
                problems.append(Problem(table.name, partition, f"{path}: {message}", not newer))
    return problems
