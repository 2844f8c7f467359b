"""The published copy of the working database, in a storage format DuckDB 1.x readers open.

The pipeline's DuckDB is 2.x; BI tools carry older DuckDB libraries (Evidence's node
bindings, the JDBC driver behind DBeaver and Metabase, ``duckdb-engine`` setups), which
refuse a file written in a newer format. So the working database itself is stored in
``STORAGE_VERSION``: the oldest storage version in which every table and view opens and
runs. Checked with DuckDB 1.0.0 to 2.0.1: in ``v1.0.0`` format DuckDB 1.0 cannot read our
views back ("Failed to deserialize"), while ``v1.1.0`` opens, views included, in DuckDB
1.1.3, 1.2.2, 1.3.2, 1.4.4, 1.5.6 and 2.x. Publishing is then a copy of the file's bytes:
0.016 s for a busy account's 14 MiB, where writing a copy in the older format took 0.59 s
and 253 MiB (benchmarks/RESULTS.md). A working database made by an older release, in the
newest format, is copied table by table once, and that copy becomes the working database.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb

from warehouse.files import FILE_MODE, copy_atomic, move_atomic
from warehouse.leftovers import PUBLISH_FILE, remove_database

STORAGE_VERSION = "v1.1.0"
OLDEST_READER = "1.1"  # the oldest DuckDB release that opens a STORAGE_VERSION file
# what a connection that may create the working database passes to duckdb.connect
WORKING_CONFIG = {"storage_compatibility_version": STORAGE_VERSION}


def readable_from(tag: str | None) -> bool:
    """Whether a file DuckDB tags ``tag`` (the oldest storage version that reads it:
    ``v1.0.0+`` for one written in ``v1.1.0``'s format, ``v2.0.0+`` for the newest) opens
    in every DuckDB from ``STORAGE_VERSION``. A tag of another shape says no: the file is
    then copied table by table, which is always safe."""
    found = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\+?", tag or "")
    wanted = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", STORAGE_VERSION)
    return (
        found is not None
        and wanted is not None
        and (tuple(map(int, found.groups())) <= tuple(map(int, wanted.groups())))
    )


def in_published_format(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's database file is stored in ``STORAGE_VERSION``'s format."""
    tags = con.execute(
        "SELECT tags FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()[0]
    return readable_from(tags.get("storage_version"))


def write_published(work_db: Path, target: Path, memory_limit: str, *, as_is: bool) -> None:
    """Copy the (checkpointed, closed) working database over ``target`` atomically.

    With ``as_is`` (the working database is in ``STORAGE_VERSION``'s format) its bytes
    are copied. Otherwise its tables and views are copied into a new database in that
    format, which once published replaces the working database too. Either copy is written
    beside the working database, then synced and renamed over ``target``: a reader sees the
    old file or the new one, whole. A failure (a full disk) removes the partial copy and
    leaves ``target`` and the working database as they were.
    """
    staging = Path(work_db).with_name(PUBLISH_FILE)
    remove_database(staging)
    try:
        if as_is:
            private = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with open(work_db, "rb") as source, os.fdopen(private, "wb") as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
        else:
            _copy_in_published_format(work_db, staging, memory_limit)
    except BaseException:
        remove_database(staging)
        raise
    move_atomic(staging, target)
    if not as_is and not work_db.with_name(work_db.name + ".wal").exists():
        copy_atomic(target, work_db)  # the same tables and views, from now on copied as is


def _copy_in_published_format(work_db: Path, staging: Path, memory_limit: str) -> None:
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
    finally:
        con.close()
