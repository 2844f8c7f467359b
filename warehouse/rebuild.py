"""Reading the raw zone again: a table cleared for a replay, or a whole database rebuilt.

A rebuild fills a new database beside the working one and renames it into place only
when complete, so a failure or a crash before that leaves the old one as it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Self

import duckdb
import pyarrow as pa

from warehouse import parquet
from warehouse.bookkeeping import LAKE_SYNCED, PUBLISHED_LOGS, SETTINGS
from warehouse.crashpoints import crash_if_asked
from warehouse.files import fsync_dir
from warehouse.leftovers import REBUILD_FILE, remove_database
from warehouse.merge import q


class Rebuilding:
    """The replay methods of :class:`warehouse.store.Warehouse`, on its connection."""

    def clear_table(self, name: str) -> None:
        """Delete every row of a data table (to be replayed), its Parquet dataset with it."""

        def work(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(f"DELETE FROM {q(name)}")
            parquet.add_pending(con, {(name, parquet.WHOLE_TABLE)})

        self._transaction(work)

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator[Self]:
        """A new working database beside this one, swapped in when the block succeeds.

        The yielded warehouse starts with empty tables and this one's run log, shares its
        lock and publishes nothing: every table's Parquet dataset stays pending. A block
        that ends normally has it checkpointed and renamed over the working database, which
        this warehouse then uses; publishing is left to the caller. A block that raises
        has it deleted, and this warehouse, Parquet and the published copy stay as they were.
        """
        built = type(self)(self.data_dir, None, self.work_db.with_name(REBUILD_FILE))
        built.building = True
        remove_database(built.work_db)
        try:
            built._connect()
            built._create_tables()
            built.create_views()
            # the run log, and the settings the views read
            logs = {t.name: self.read_table(t.name) for t in PUBLISHED_LOGS}
            # but not the lake versions the old database held in full: the new one reads them
            logs[SETTINGS.name] = self.connection.sql(
                f"SELECT * FROM {q(SETTINGS.name)} WHERE NOT starts_with(name, ?)",
                params=[LAKE_SYNCED],
            ).to_arrow_table()
            built._transaction(lambda con: _start(con, logs))
            yield built
            built.connection.execute("CHECKPOINT")
        except BaseException:
            built.close()
            remove_database(built.work_db)
            raise
        built.close()
        crash_if_asked("rebuild.built")
        self._swap_in(built.work_db)

    def _swap_in(self, built: Path) -> None:
        """Rename the checkpointed database ``built`` over the working one and reopen it."""
        self.connection.close()
        self._con = None
        try:
            # the old file's log, replayed on the new one, would corrupt it
            self.work_db.with_name(self.work_db.name + ".wal").unlink(missing_ok=True)
            os.replace(built, self.work_db)
            fsync_dir(self.work_db.parent)
            crash_if_asked("rebuild.swapped")
        finally:
            self._connect()


def _start(con: duckdb.DuckDBPyConnection, logs: Mapping[str, pa.Table]) -> None:
    """Copy the run log and settings into a database being rebuilt; mark every dataset for
    publishing."""
    for name, rows in logs.items():
        con.register("run_log", rows)
        con.execute(f"INSERT INTO {q(name)} BY NAME SELECT * FROM run_log")
        con.unregister("run_log")
    parquet.add_pending(con, {(name, parquet.WHOLE_TABLE) for name in parquet.PUBLISHED})
