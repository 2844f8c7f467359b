"""DuckDB's memory limit for the working database: the default, its override, its sizes."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import duckdb

# DuckDB's share of memory; it spills past it to .work/. Nothing a merge holds grows with
# the history (no key index, chunks staged in temporary tables), so no account outgrows
# it: a 4x busy account (1M rows) exports within it. T212_DUCKDB_MEMORY_LIMIT overrides.
MEMORY_LIMIT = "256MB"
MEMORY_ENV = "T212_DUCKDB_MEMORY_LIMIT"

_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}  # fmt: skip


class MemoryLimitInvalid(ValueError):
    """The memory limit set for DuckDB is not one it accepts."""


def memory_bytes(size: str) -> int | None:
    """Bytes of a DuckDB memory size such as ``256MB`` or ``1GiB``; None if not one."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]I?)?B?\s*", size.upper())
    if not match:
        return None
    return int(float(match[1]) * _UNITS[match[2] or ""])


def memory_limit() -> str:
    """The limit set in the environment, else the default."""
    return os.environ.get(MEMORY_ENV) or MEMORY_LIMIT


def set_memory_limit(con: duckdb.DuckDBPyConnection) -> None:
    """Hold ``con``'s database to :func:`memory_limit`; :class:`MemoryLimitInvalid` if
    DuckDB refuses it."""
    limit = memory_limit()
    try:
        con.execute("SET memory_limit = ?", [limit])
    except duckdb.Error:
        raise MemoryLimitInvalid(
            f"{MEMORY_ENV}={limit!r} is not a memory size; give one such as 256MB or 1GB"
        ) from None


@contextlib.contextmanager
def memory_at_least(con: duckdb.DuckDBPyConnection, floor: int) -> Iterator[None]:
    """The memory limit of ``con``'s database raised to ``floor`` bytes for the block,
    when set lower."""
    limit = memory_bytes(memory_limit())
    if limit is None or limit >= floor:
        yield
        return
    con.execute(f"SET memory_limit = '{floor // 2**20}MiB'")
    try:
        yield
    finally:
        con.execute("SET memory_limit = ?", [memory_limit()])
