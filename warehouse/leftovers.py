"""Leftovers of interrupted work: a half-built database and the files it spilled."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

# the database a rebuild fills beside the working one, in the working directory
REBUILD_FILE = "rebuilding.duckdb"


def remove_database(path: Path) -> None:
    """Delete a DuckDB database file with its write-ahead log and its spill directory."""
    for file in (path, path.with_name(path.name + ".wal")):
        file.unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path.with_name(path.name + ".tmp"))
