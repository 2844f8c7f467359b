"""Leftovers of killed processes: temporary files of our own naming, removed by the next one.

A process killed while writing leaves its temporary files behind, a full copy of the
database among them. The next process to take the run lock removes, and only removes:
files named as this package's writers name them (``files.TEMP_NAME``), a rebuild's
unfinished database, and DuckDB's spill files beside our databases; each only when it
is older than the lock, so no file of a process still running is touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from warehouse.files import TEMP_NAME

log = logging.getLogger("t212_etl")

# the databases a rebuild fills, and a publish writes, beside the working one
REBUILD_FILE = "rebuilding.duckdb"
PUBLISH_FILE = "publishing.duckdb"
# DuckDB spills to "<database>.tmp/" beside a database file, in files it names so
_SPILL_PREFIX = "duckdb_temp_"
_COMPLETE = "complete.json"  # a raw run's last file: a complete run holds no temporary file


def remove_database(path: Path) -> None:
    """Delete a DuckDB database file with its write-ahead log and its spill files."""
    for file in (path, path.with_name(path.name + ".wal"), *_spilled(path)):
        file.unlink(missing_ok=True)
    _remove_spill_dir(path)


def remove_leftovers(data_dir: Path, work_db: Path, before_ns: int) -> int:
    """Delete our temporary files older than ``before_ns``; returns how many were removed.

    ``work_db`` is the working database; a rebuild's and a publish's are beside it.
    """
    work_db = Path(work_db)
    databases = [work_db, work_db.with_name(REBUILD_FILE), work_db.with_name(PUBLISH_FILE)]
    removed = 0
    for path in _candidates(Path(data_dir), databases):
        with contextlib.suppress(FileNotFoundError):
            if path.is_symlink() or path.stat().st_mtime_ns >= before_ns:
                continue
            path.unlink()
            removed += 1
    for database in databases:
        _remove_spill_dir(database)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted process", removed)
    return removed


def _candidates(data_dir: Path, databases: list[Path]) -> Iterator[Path]:
    work_db, *staged = databases
    yield from _temporary(data_dir)
    yield from _temporary(work_db.parent)
    for database in staged:
        yield from (database, database.with_name(database.name + ".wal"))
    for database in databases:
        yield from _spilled(database)
    for directory, _, files in os.walk(data_dir / "parquet"):
        yield from (Path(directory) / f for f in files if TEMP_NAME.fullmatch(f))
    for run in (data_dir / "raw").glob("*/*/*"):
        if run.is_dir() and not (run / _COMPLETE).exists():
            yield from _temporary(run)


def _temporary(directory: Path) -> Iterator[Path]:
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        yield from (p for p in directory.iterdir() if TEMP_NAME.fullmatch(p.name))


def _spilled(database: Path) -> Iterator[Path]:
    spill = database.with_name(database.name + ".tmp")
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        yield from (p for p in spill.iterdir() if p.name.startswith(_SPILL_PREFIX))


def _remove_spill_dir(database: Path) -> None:
    with contextlib.suppress(OSError):  # absent, or holding other files
        database.with_name(database.name + ".tmp").rmdir()
