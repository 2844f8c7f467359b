"""Readers of the published warehouse: a connection that can read and change nothing else."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from warehouse.parquet import PARQUET_DIR, PUBLISHED

if TYPE_CHECKING:
    from warehouse.lake import Lake

DATABASE_FILE = "warehouse.duckdb"
# What a reader's statements may be; anything else (COPY, EXPORT, ATTACH, INSTALL, LOAD,
# SET, writes) is refused before DuckDB sees it.
READ_STATEMENTS = frozenset({"SELECT", "EXPLAIN", "PRAGMA", "CALL", "MULTI"})
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s*(\([^)]*\))?\s*(ANALY[SZ]E\b)?", re.IGNORECASE)
READ_ONLY_HINT = "t212-etl sql only reads"


class WarehouseMissing(FileNotFoundError):
    """No published warehouse exists yet in this data directory."""


class WriteRefused(PermissionError):
    """A statement given to a reader would write, attach, load or reconfigure something."""


def connect_readonly(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """Open the published ``warehouse.duckdb`` read-only, as readers and ``sql`` should.

    The connection reads the database and the Parquet files under ``<data>/parquet/``
    and nothing else: no other file, no URL, no extension, and its settings are locked.
    """
    data_dir = Path(data_dir)
    path = data_dir / DATABASE_FILE
    if not path.is_file():
        raise WarehouseMissing(f"no warehouse at {path}: run `t212-etl run` first")
    return _connect(str(path), [_readable(data_dir)], lambda con: None)


def _connect(
    path: str | None, readable: list[str], fill: Callable[[duckdb.DuckDBPyConnection], None]
) -> duckdb.DuckDBPyConnection:
    """A reader's connection (read-only for a file): ``fill`` runs before it is locked down
    to the ``readable`` directories, no extension and no setting change."""
    con = duckdb.connect(
        path or ":memory:",
        read_only=path is not None,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        # DuckDB draws a progress bar on stdout past two seconds: it would corrupt `sql`'s output
        con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone = 'UTC'")
        fill(con)
        if readable:
            con.execute("SET allowed_directories = $dirs", {"dirs": readable})
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def connect_lake(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB reading the lake's tables at their last commit, with every view.

    Each table is the Arrow dataset of its Delta table's current version (DuckDB scans
    it lazily, filters pushed down); a table the lake does not have yet reads as empty.
    The portfolio views convert to account currencies only: ``base_currency`` lives in
    each worker's database. External access is then switched off, as for the local file.
    """
    from warehouse.bookkeeping import SETTINGS
    from warehouse.views import create_views

    def fill(con: duckdb.DuckDBPyConnection) -> None:
        for name, table in PUBLISHED.items():
            target = lake.open_table(name)
            empty = table.arrow_schema().empty_table()
            con.register(name, empty if target is None else target.to_pyarrow_dataset())
        con.execute(SETTINGS.duckdb_ddl())
        create_views(con)

    return _connect(None, [], fill)


def _readable(data_dir: Path) -> str:
    """The Parquet directory, absolute and ending in a separator so siblings do not match."""
    return str((data_dir / PARQUET_DIR).resolve()) + "/"


def check_read_only(query: str) -> None:
    """Raise :class:`WriteRefused` unless every statement of ``query`` only reads.

    DuckDB would refuse writes to the database and to files outside the Parquet
    directory by itself; this also keeps a COPY (or an ``EXPLAIN ANALYZE`` of one)
    from writing into the Parquet directory the reader may read.
    """
    for statement in duckdb.extract_statements(query):
        kind = statement.type.name
        if kind == "EXPLAIN":
            inner = _EXPLAIN.sub("", statement.query, count=1)
            kinds = {s.type.name for s in duckdb.extract_statements(inner)} if inner else set()
            if kinds <= READ_STATEMENTS - {"EXPLAIN"}:
                continue
            kind = f"EXPLAIN of {', '.join(sorted(kinds))}"
        if kind not in READ_STATEMENTS:
            raise WriteRefused(
                f"{READ_ONLY_HINT} (read-only): {kind} statements are refused; "
                "to save a result, use --format csv or json and redirect the output"
            )
