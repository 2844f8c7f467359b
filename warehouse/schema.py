"""The working database's schema: tables created or upgraded, and the empty database
(every table, view and comment) that new ones start as from a process's second on.

Creating the analysis views costs DuckDB about 0.2 s for a new database, more than the rest
of opening one: it binds each view's definition, and a view reading other views binds
them again. A process's first new database is made in place, and a run creates its views
beside its first requests, so `demo` and a first run pay nothing here. A process that
opens more new databases (a rebuild after a run, the benchmarks, the test suite) makes the
empty one once, on its second, and copies its bytes: DuckDB opens them with the views
bound already.
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from transforms.catalogue import TABLES
from warehouse.bookkeeping import BOOKKEEPING
from warehouse.files import secure_file, write_atomic
from warehouse.migrate import add_missing_columns, drop_primary_keys
from warehouse.published import WORKING_CONFIG
from warehouse.views import comment_sql, refresh_views

_blank: bytes | None = None
_new_databases = 0  # new databases this process has started
_making = threading.Lock()


def create_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Create the missing tables and columns; return the tables whose rows must be replayed."""
    for table in (*TABLES.values(), *BOOKKEEPING.values()):
        con.execute(table.duckdb_ddl())
        if table.description:
            con.execute(comment_sql("TABLE", table.name, table.description))
    drop_primary_keys(con, list(TABLES.values()))
    return add_missing_columns(con, list(TABLES.values()))


def copy_blank(target: Path) -> bool:
    """Write the empty database to ``target`` (a private file), from the process's second
    new database on; returns whether it did. The first is left to be made in place; the
    second makes the empty one there."""
    global _blank, _new_databases
    with _making:
        _new_databases += 1
        if _new_databases == 1:
            return False
        if _blank is None:
            _blank = _make(target)
            return True
    write_atomic(target, _blank)
    return True


def _make(path: Path) -> bytes:
    """Make the empty database at ``path``; return its bytes."""
    con = duckdb.connect(str(path), config=WORKING_CONFIG)
    try:
        con.begin()
        create_tables(con)
        refresh_views(con)
        con.commit()
    finally:
        con.close()  # a checkpoint: the file holds everything, no write-ahead log
    secure_file(path)
    return path.read_bytes()
