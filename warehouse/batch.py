"""A resource merged chunk by chunk: one transaction for all chunks, its cursor and Parquet work."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime

import duckdb
import pyarrow as pa

from transforms.catalogue import TABLES
from warehouse import merge as merging
from warehouse import parquet
from warehouse.bookkeeping import LOAD_STATE
from warehouse.crashpoints import crash_if_asked
from warehouse.merge import MergeCounts, Seen, q


class MergeBatch:
    """Chunks of one resource merged into one open transaction on a connection of its own.

    Rows of a later chunk never override a key an earlier chunk merged, so the counts
    and the rows equal those of one merge of everything; nothing is visible to other
    connections before :meth:`commit`. Use through ``Warehouse.merge_batch``.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        resource: str,
        account_id: int,
        *,
        run_id: str,
        loaded_at: datetime,
        owners: dict[str, str] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._con = con
        self.resource = resource
        self.account_id = account_id
        self.run_id = run_id
        self.loaded_at = loaded_at
        self.counts: dict[str, MergeCounts] = {}
        self._pending: set[tuple[str, str]] = set()
        self._seen = Seen(owners)
        self._on_close = on_close
        self._open = True
        con.execute("SET TimeZone = 'UTC'")
        con.begin()

    def __enter__(self) -> MergeBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def add(self, tables: Mapping[str, pa.Table]) -> dict[str, MergeCounts]:
        """Merge one chunk's tables (in the given order); returns this chunk's counts."""
        if not self._open:
            raise RuntimeError("the merge batch is closed")
        chunk = {}
        for name, data in tables.items():
            result, partitions = merging.merge_table(
                self._con,
                TABLES[name],
                data,
                loaded_at=self.loaded_at,
                run_id=self.run_id,
                seen=self._seen,
            )
            chunk[name] = result
            old = self.counts.get(name, MergeCounts(0, 0, 0))
            self.counts[name] = MergeCounts(*(a + b for a, b in zip(old, result, strict=True)))
            self._pending |= {(name, p) for p in partitions}
        self._seen.chunk += 1
        return chunk

    def commit(self, cursor: dict | None) -> dict[str, MergeCounts]:
        """Store the cursor and the pending Parquet work, commit everything; returns counts."""
        cursor_json = None if cursor is None else json.dumps(cursor, sort_keys=True)
        try:
            self._con.execute(
                f"INSERT OR REPLACE INTO {q(LOAD_STATE.name)} VALUES (?, ?, ?, ?, ?)",
                [self.account_id, self.resource, cursor_json, self.loaded_at, self.run_id],
            )
            parquet.add_pending(self._con, self._pending)
            crash_if_asked("commit")
            self._con.commit()
        except BaseException:
            self.rollback()
            raise
        self._close()
        return self.counts

    def rollback(self) -> None:
        """Discard every chunk; safe to call twice."""
        if self._open:
            # A failed rollback (an invalidated database) must not hide the cause.
            with contextlib.suppress(duckdb.Error):
                self._con.rollback()
            self._close()

    def _close(self) -> None:
        self._open = False
        with contextlib.suppress(duckdb.Error):
            self._con.close()
        if self._on_close is not None:
            self._on_close()
