"""What the lake's tests compare: the lake's tables with the local database, per account."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa

from sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_ISA_ACCOUNT_ID,
    DEMO_ISA_KEY,
    DEMO_ISA_SECRET,
    DEMO_KEY,
    DEMO_SECRET,
    AccountSpec,
    SandboxConfig,
    SandboxSize,
)
from warehouse import connect_readonly
from warehouse.lake import Lake
from warehouse.objectstore import ObjectStore
from warehouse.parquet import PUBLISHED

DEPOSITS = 7  # rows of the report deposits_csv writes by default
# two accounts small enough that a run takes a second or two
TINY = SandboxSize(instruments=40, positions=4, dividends=12, orders=20, transactions=12)


def read_bytes(store: ObjectStore, key: str) -> bytes | None:
    """The object at ``key``, or None when there is none; in a local store read as a plain
    file, as readers do (a conditional read would leave its lock file beside it)."""
    if store.local_root is not None:
        path = store.local_root / key
        return path.read_bytes() if path.is_file() else None
    found = store.read(key)
    return None if found is None else found[0]


def tiny_sandbox_config() -> SandboxConfig:
    """The sandbox's Invest and ISA accounts, of :data:`TINY` size each."""
    return SandboxConfig(
        accounts=(
            AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, "invest", size=TINY),
            AccountSpec(
                DEMO_ISA_ACCOUNT_ID, "GBP", DEMO_ISA_KEY, DEMO_ISA_SECRET, "isa", size=TINY
            ),
        ),
        time_scale=0.0005,
    )


def _select(name: str) -> str:
    columns = ", ".join(f'"{c}"' for c in PUBLISHED[name].column_names)
    return f'SELECT {columns} FROM "{name}" ORDER BY ALL'


def local_tables(data_dir: Path) -> dict[str, list[tuple]]:
    """Every published table of the local database: all columns, rows sorted."""
    con = connect_readonly(data_dir)
    try:
        return {name: con.execute(_select(name)).fetchall() for name in PUBLISHED}
    finally:
        con.close()


def lake_reader(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB (in UTC) reading each published table at the lake's current
    version, an empty table where the lake has none.

    The tests' own reader: the product's (``connect_lake``) also creates every view, 0.15 s
    a reader that these checks, reading tables only, spent 24 times a suite run.
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, table in PUBLISHED.items():
        found = lake.open_table(name)
        con.register(name, table.arrow_schema().empty_table() if found is None
                     else found.to_pyarrow_dataset())  # fmt: skip
    return con


def lake_tables(lake: Lake) -> dict[str, list[tuple]]:
    """Every published table as the lake's current versions hold it, rows sorted."""
    con = lake_reader(lake)
    try:
        return {name: con.execute(_select(name)).fetchall() for name in PUBLISHED}
    finally:
        con.close()


def assert_lake_equals_local(lake: Lake, data_dir: Path) -> None:
    """Every published table of the lake equals the local one exactly."""
    local, remote = local_tables(data_dir), lake_tables(lake)
    for name in PUBLISHED:
        assert remote[name] == local[name], name
    assert sum(len(rows) for rows in local.values()) > 1000


def held_leases(lake: Lake) -> list[str]:
    """The lease objects of the lake that are not released (a released lease stays, marked)."""
    keys = [k for k in lake.store.list("leases/") if k.endswith(".json")]
    return [
        k for k in keys if not json.loads(read_bytes(lake.store, k) or b"{}").get("released_at")
    ]


def delta_table(lake: Lake, name: str, version: int | None = None):
    """The Delta table ``name`` at ``version`` (the latest when None)."""
    from deltalake import DeltaTable

    return DeltaTable(lake.table_uri(name), version=version, storage_options=lake.options)


def per_account(data: pa.Table) -> dict[int, int]:
    """Rows per account of an Arrow table read from the lake."""
    return dict(Counter(data.column("account_id").to_pylist()))


def versions(lake: Lake) -> dict[str, int]:
    """The current version of every published table."""
    return {name: delta_table(lake, name).version() for name in PUBLISHED}


class Reader(threading.Thread):
    """Reads a Delta table again and again until stopped: (version, rows per account) each time."""

    def __init__(self, lake: Lake, name: str) -> None:
        super().__init__(name=f"reader-{name}", daemon=True)
        self.lake, self.table = lake, name
        self.seen: list[tuple[int, dict[int, int]]] = []
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        from deltalake.exceptions import TableNotFoundError

        try:
            while not self._stop_event.is_set():
                try:
                    table = delta_table(self.lake, self.table)
                except TableNotFoundError:
                    self.seen.append((-1, {}))
                else:
                    self.seen.append((table.version(), per_account(table.to_pyarrow_table())))
                time.sleep(0.1)  # a reader now and then, not a busy loop beside the run
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def __enter__(self) -> Reader:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def deposits_csv(path: Path, count: int = DEPOSITS) -> Path:
    """A synthetic activity report of ``count`` deposits."""
    lines = ["Action,Time (UTC),ID,Total,Currency (Total)"]
    lines += [
        f"Deposit,2024-01-{day:02d}T10:00:00Z,DEP{day:04d},100.00,GBP"
        for day in range(1, count + 1)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
