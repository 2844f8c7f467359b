"""The published copy of the working database, in a storage format DuckDB 1.x readers open.

The pipeline's working database is in the newest format of the DuckDB it runs; BI tools
carry older DuckDB libraries (Evidence's node bindings, the JDBC driver behind DBeaver
and Metabase, ``duckdb-engine`` setups), which refuse a file written in a newer format.
So the published file is a copy written in ``STORAGE_VERSION``: the oldest storage
version in which every table and view opens and runs. Checked with DuckDB 1.0.0 to 2.0.1:
in ``v1.0.0`` format DuckDB 1.0 cannot read our views back ("Failed to deserialize"),
while ``v1.1.0`` opens, views included, in DuckDB 1.1.3, 1.2.2, 1.3.2, 1.4.4, 1.5.6 and 2.x.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.files import move_atomic
from warehouse.leftovers import PUBLISH_FILE, remove_database

STORAGE_VERSION = "v1.1.0"
OLDEST_READER = "1.1"  # the oldest DuckDB release that opens a STORAGE_VERSION file


def write_published(work_db: Path, target: Path, memory_limit: str) -> None:
    """Copy the (checkpointed, closed) working database over ``target`` atomically.

    The copy is written beside the working database in ``STORAGE_VERSION`` format, then
    synced and renamed over ``target``: a reader sees the old file or the new one, whole.
    A failure (a full disk) removes the partial copy and leaves ``target`` as it was.
    """
    staging = Path(work_db).with_name(PUBLISH_FILE)
    remove_database(staging)
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        con.execute("SET enable_progress_bar = false")  # a long copy would draw it on stdout
        con.execute("SET memory_limit = ?", [memory_limit])
        con.execute("SET temp_directory = ?", [str(staging) + ".tmp"])
        con.execute("ATTACH ? AS working (READ_ONLY)", [str(work_db)])
        con.execute(f"ATTACH ? AS published (STORAGE_VERSION '{STORAGE_VERSION}')", [str(staging)])
        con.execute("COPY FROM DATABASE working TO published")
        con.execute("DETACH published")
    except BaseException:
        con.close()
        remove_database(staging)
        raise
    con.close()
    move_atomic(staging, target)
