"""Reading the raw zone again: a table cleared for a replay, or a whole database rebuilt.

A rebuild fills a new database beside the working one and renames it into place only
when complete, so a failure or a crash before that leaves the old one as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import duckdb
import pyarrow as pa

from warehouse import parquet
from warehouse.bookkeeping import LAKE_SYNCED, PUBLISHED_LOGS, SETTINGS
from warehouse.crashpoints import crash_if_asked
from warehouse.leftovers import REBUILD_FILE, remove_database
from warehouse.merge import q
from warehouse.store import Warehouse
from warehouse.views import VIEWS_SETTING


def clear_table(warehouse: Warehouse, name: str) -> None:
    """Delete every row of a data table (to be replayed), its Parquet dataset with it."""

    def work(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DELETE FROM {q(name)}")
        parquet.add_pending(con, {(name, parquet.WHOLE_TABLE)})

    warehouse.transaction(work)


@contextlib.contextmanager
def rebuilding(warehouse: Warehouse) -> Iterator[Warehouse]:
    """A new working database beside the warehouse's, swapped in when the block succeeds.

    The yielded warehouse starts with empty tables and this one's run log, shares its
    lock file and publisher and publishes nothing: every table's Parquet dataset stays
    pending. A block that ends normally has it checkpointed and renamed over the working
    database, which ``warehouse`` then uses; publishing is left to the caller. A block
    that raises has it deleted, and ``warehouse``, Parquet and the published copy stay
    as they were.
    """
    built = Warehouse(
        warehouse.data_dir,
        None,
        warehouse.work_db.with_name(REBUILD_FILE),
        publisher=warehouse.publisher,
    )
    built.building = True
    remove_database(built.work_db)
    try:
        built.start()
        # the run log, and the settings the views read
        logs = {t.name: warehouse.read_table(t.name) for t in PUBLISHED_LOGS}
        # but not the lake versions the old database held in full (the new one reads them)
        # nor the name of its views' definitions (the new one names its own)
        logs[SETTINGS.name] = warehouse.connection.sql(
            f"SELECT * FROM {q(SETTINGS.name)} WHERE NOT starts_with(name, ?) AND name <> ?",
            params=[LAKE_SYNCED, VIEWS_SETTING],
        ).to_arrow_table()
        built.transaction(lambda con: _start(con, logs))
        built.create_views()  # after the settings: they name the views' definitions
        yield built
        built.connection.execute("CHECKPOINT")
    except BaseException:
        built.close()
        remove_database(built.work_db)
        raise
    built.close()
    crash_if_asked("rebuild.built")
    warehouse.replace_database(built.work_db)


def _start(con: duckdb.DuckDBPyConnection, logs: Mapping[str, pa.Table]) -> None:
    """Copy the run log and settings into a database being rebuilt; mark every dataset for
    publishing."""
    for name, rows in logs.items():
        con.register("run_log", rows)
        con.execute(f"INSERT INTO {q(name)} BY NAME SELECT * FROM run_log")
        con.unregister("run_log")
    parquet.add_pending(con, {(name, parquet.WHOLE_TABLE) for name in parquet.PUBLISHED})
