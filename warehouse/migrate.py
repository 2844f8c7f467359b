"""Upgrades of working databases written by earlier versions, run when the warehouse opens."""

from __future__ import annotations

import duckdb

from transforms.catalogue import Table
from warehouse.merge import q


def drop_primary_keys(con: duckdb.DuckDBPyConnection, tables: list[Table]) -> list[str]:
    """Rebuild each of ``tables`` that still has a primary key without it; returns their names.

    Earlier versions declared one on every data table, and DuckDB keeps such an index in
    memory whole, so a long history could no longer be merged. DuckDB cannot drop a
    constraint, so the table is copied (the copy spills as any query does) and renamed.
    Runs in the caller's transaction.
    """
    indexed = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_constraints() "
            "WHERE constraint_type = 'PRIMARY KEY' AND database_name = current_database()"
        ).fetchall()
    }
    rebuilt = []
    for table in tables:
        if table.indexed or table.name not in indexed:
            continue
        old = f"__t212_old_{table.name}"
        cols = ", ".join(q(c) for c in table.column_names)
        con.execute(f"ALTER TABLE {q(table.name)} RENAME TO {q(old)}")
        con.execute(table.duckdb_ddl(if_not_exists=False))
        con.execute(f"INSERT INTO {q(table.name)} ({cols}) SELECT {cols} FROM {q(old)}")
        con.execute(f"DROP TABLE {q(old)}")
        rebuilt.append(table.name)
    return rebuilt


# Columns that came with a new key for their table: rows stored before must be read again
# from the raw zone. ``report_id`` came with the event identity of CSV rows.
REKEYED_BY = {("activity", "report_id")}


def add_missing_columns(con: duckdb.DuckDBPyConnection, tables: list[Table]) -> set[str]:
    """Add the declared columns each table lacks (NULL in stored rows); returns the tables
    whose stored rows must be replayed from the raw zone (see ``REKEYED_BY``)."""
    stored = {
        (row[0], row[1])
        for row in con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
    }
    replay = set()
    for table in tables:
        for column in table.columns:
            if (table.name, column.name) in stored:
                continue
            con.execute(
                f"ALTER TABLE {q(table.name)} ADD COLUMN {q(column.name)} {column.duckdb_type}"
            )
            if (table.name, column.name) in REKEYED_BY:
                replay.add(table.name)
    return replay
