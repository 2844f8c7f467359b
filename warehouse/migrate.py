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
