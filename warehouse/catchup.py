"""Catching up from the lake: rows other workers published for the accounts a worker holds.

A worker's database may be behind the lake: its disk was wiped, or another worker ran
its accounts meanwhile. Before it exports, it reads what the lake has of its accounts
and merges it on the key (a row replaced only by a newer ``_loaded_at``), so its
database, and what it derives and publishes from it, holds everything. Each table's
version read in full is noted per account (settings ``lake_synced:<table>:<account>``):
the next catch-up reads only the files added since.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from transforms.catalogue import TABLES, Table
from warehouse.bookkeeping import MERGED_KINDS, record_synced, synced_versions
from warehouse.lakebatch import load_tables
from warehouse.merge import q
from warehouse.objectstore import ObjectStoreError

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from warehouse.lake import Lake

CHUNK_ROWS = 100_000  # rows merged by one statement


class CatchUpFailed(ObjectStoreError):
    """The lake's rows could not be read; the database stays as it was."""


def caught_up_tables() -> list[Table]:
    """The tables a worker catches up on: every account's snapshots and history."""
    return [t for t in TABLES.values() if t.kind in MERGED_KINDS and "account_id" in t.key]


def catch_up(con: duckdb.DuckDBPyConnection, lake: Lake, accounts: Iterable[int]) -> int:
    """Merge into ``con`` the lake's rows of ``accounts`` it lacks or holds older; returns
    how many rows were added or made newer."""
    accounts = sorted({int(a) for a in accounts})
    if not accounts:
        return 0
    tables = caught_up_tables()
    lake.direct.recall(con)
    load_tables(lake, [table.name for table in tables], fresh=True)  # the lake as it is now
    return sum(_catch_up_table(con, lake, table, accounts) for table in tables)


def _catch_up_table(
    con: duckdb.DuckDBPyConnection, lake: Lake, table: Table, accounts: list[int]
) -> int:
    synced = synced_versions(con, table.name)
    known = lake.version(table.name)  # a verified note: no load when nothing is behind
    if known is None or all(synced.get(a) == known for a in accounts):
        return 0
    target = lake.kept(table.name)
    if target is None:
        return 0
    version = target.version()
    behind = [a for a in accounts if synced.get(a) != version]
    if not behind:
        return 0
    try:
        paths = _new_files(lake, table, target, {a: synced.get(a) for a in behind})
        rows = sum(_merge_local(con, table, chunk) for chunk in _chunks(target, table, paths))
    except (duckdb.Error, CatchUpFailed):
        raise
    except Exception as exc:  # the Delta library's or the store's errors, in one line
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise CatchUpFailed(
            f"cannot read {lake.table_uri(table.name)} to catch up with it "
            f"({first or type(exc).__name__}); check the storage URL and credentials"
        ) from None
    record_synced(con, table.name, behind, version)
    return rows


def _files(target: DeltaTable) -> list[tuple[str, int]]:
    """The files of the table's version, each with its account."""
    actions = pa.table(target.get_add_actions(flatten=True))
    paths = actions.column("path").to_pylist()
    accounts = actions.column("partition.account_id").to_pylist()
    return [(p, int(a)) for p, a in zip(paths, accounts, strict=True)]


def _new_files(
    lake: Lake, table: Table, target: DeltaTable, since: dict[int, int | None]
) -> set[str]:
    """The files of the accounts in ``since`` added after the version each holds in full
    (every file of an account that holds none, or whose version the lake no longer has)."""
    from deltalake import DeltaTable

    older: dict[int, set[str]] = {}
    for version in {v for v in since.values() if v is not None and v < target.version()}:
        try:
            old = DeltaTable(
                lake.table_uri(table.name), version=version, storage_options=lake.options
            )
        except Exception:  # a version whose log was cleaned up: every file is read
            continue
        older[version] = {path for path, _ in _files(old)}
    wanted = set()
    for path, account in _files(target):
        if account in since and path not in older.get(since[account], set()):
            wanted.add(path)
    return wanted


def _chunks(target: DeltaTable, table: Table, paths: set[str]) -> Iterator[pa.Table]:
    """The rows of the files ``paths``, in chunks, typed as the catalogue types them."""
    import pyarrow.dataset as ds

    if not paths:
        return
    dataset = target.to_pyarrow_dataset()
    fragments = [f for f in dataset.get_fragments() if f.path in paths]
    files = ds.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)
    schema = table.arrow_schema()
    batches = files.to_batches(columns=schema.names, batch_size=CHUNK_ROWS)
    for batch in batches:
        if batch.num_rows:
            yield pa.Table.from_batches([batch]).cast(schema)


def _merge_local(con: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> int:
    """Add the rows the database lacks and replace the ones it holds older; returns how many."""
    name = q(table.name)
    on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in table.key)
    con.register("lake_rows", rows)
    try:
        con.execute(
            f'DELETE FROM {name} AS t USING lake_rows AS s WHERE {on} AND s."_loaded_at" > '
            't."_loaded_at"'
        )
        # a row keyed as an older version keyed the table (a key column NULL) is no row
        # of this one: an upgrade that re-keys a table reads it again from the raw zone
        keyed = " AND ".join(f"s.{q(k)} IS NOT NULL" for k in table.key)
        added = con.execute(
            f"INSERT INTO {name} BY NAME SELECT s.* FROM lake_rows AS s "
            f"WHERE {keyed} AND NOT EXISTS (SELECT 1 FROM {name} AS t WHERE {on})"
        ).fetchall()[0][0]
    finally:
        con.unregister("lake_rows")
    return int(added)  # the replaced rows are added again, newer
