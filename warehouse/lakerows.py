"""Rows between DuckDB and the lake's Delta tables: partitions, readers, counts, versions held."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from transforms.catalogue import Table, TableKind
from warehouse.bookkeeping import (
    GLOBAL_ACCOUNT,
    LOAD_STATE,
    PENDING_PUBLISH,
    record_synced,
    synced_versions,
)
from warehouse.merge import q
from warehouse.scopes import WHOLE_TABLE, scope_predicate

if TYPE_CHECKING:
    from deltalake import DeltaTable

BATCH_ROWS = 100_000
NEWER = 's."_loaded_at" > t."_loaded_at"'  # a row is replaced only by a newer state of it


def lake_partitions(table: Table) -> tuple[str, ...]:
    """The lake's partition columns: the account first, so workers never share a file."""
    if not per_account(table):
        return ()
    return ("account_id", *(c for c in table.partition_by if c != "account_id"))


def per_account(table: Table) -> bool:
    return "account_id" in table.column_names and table.kind != TableKind.LOG


def owned_accounts(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The accounts this working database loads (a run compares only those it holds)."""
    rows = con.execute(
        f'SELECT DISTINCT "account_id" FROM {q(LOAD_STATE.name)} WHERE "account_id" <> ?',
        [GLOBAL_ACCOUNT],
    ).fetchall()
    return [int(r[0]) for r in rows]


def table_reader(con: duckdb.DuckDBPyConnection, table: Table, where: str) -> pa.RecordBatchReader:
    schema = table.arrow_schema()
    cols = ", ".join(q(n) for n in schema.names)
    source = con.sql(f"SELECT {cols} FROM {q(table.name)} WHERE {where}")
    batches = source.to_arrow_reader(BATCH_ROWS)
    return pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in batches))


def count_problems(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    counted: dict[int | None, int] | None,
    uri: str,
    held: frozenset[int] | None,
) -> list[str]:
    """How the lake's rows per account (``counted``, None without a table) differ from DuckDB.

    Rows waiting to be published are no difference: the check runs beside the accounts'
    exports, and flagging their new rows would make the next commit send every row again.
    """
    if table.kind == TableKind.LOG:  # merged from every worker: only its presence tells
        return [] if counted is not None else [f"{uri}: missing"]
    waiting = _waiting(con, table)
    if waiting is None:
        return []
    if not per_account(table):
        local = int(con.execute(f"SELECT count(*) FROM {q(table.name)}").fetchall()[0][0])
        found = None if counted is None else counted.get(None, 0)
        return [] if found == local else [f"{uri}: has {found} rows, DuckDB has {local}"]
    owned = owned_accounts(con)
    if held is not None:  # a run repairs only what it may write
        owned = [a for a in owned if a in held]
    rows = con.execute(
        f'SELECT "account_id", count(*) FROM {q(table.name)} GROUP BY ALL'
    ).fetchall()
    local = {int(a): int(n) for a, n in rows if int(a) in owned}
    messages = []
    for account in sorted((set(owned) | set(local)) - waiting):
        want = local.get(account, 0)
        have = None if counted is None else counted.get(account, 0)
        if have != want:
            messages.append(f"{uri} account {account}: has {have} rows, DuckDB has {want}")
    return messages


def _waiting(con: duckdb.DuckDBPyConnection, table: Table) -> set[int] | None:
    """The accounts of ``table`` with partitions waiting to be published; None for all."""
    rows = con.execute(
        f"SELECT partition_values FROM {q(PENDING_PUBLISH.name)} WHERE table_name = ?",
        [table.name],
    ).fetchall()
    parsed = [None if v == WHOLE_TABLE else json.loads(v) for (v,) in rows]
    if any(p is None or "account_id" not in p for p in parsed):
        return None  # the whole table, or a table not partitioned by account
    return {int(p["account_id"]) for p in parsed}


def commit_hooks() -> object:
    """After a commit, no clean-up of expired log entries: it lists the whole log each time,
    so the daily vacuum (``warehouse.lakeclean``) does it instead."""
    from deltalake import PostCommitHookProperties

    return PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)


def account_rows(target: DeltaTable, table: Table) -> dict[int | None, int]:
    """Rows per account (None for a table without one), from the commit log's statistics."""
    actions = pa.table(target.get_add_actions(flatten=True))
    counts: dict[int | None, int] = {}
    accounts = (
        actions.column("partition.account_id").to_pylist()
        if lake_partitions(table)
        else [None] * actions.num_rows
    )
    for account, rows in zip(accounts, actions.column("num_records").to_pylist(), strict=True):
        key = None if account is None else int(account)
        counts[key] = counts.get(key, 0) + int(rows or 0)
    return counts


def advance(
    con: duckdb.DuckDBPyConnection, name: str, before: int, after: int, accounts: Iterable = ()
) -> None:
    """After this worker's own commit ``before`` -> ``after`` of ``accounts``' rows: the
    accounts whose rows the database held in full at ``before`` (every one at version 0,
    the empty table as created) hold them at ``after``, with nothing to read back."""
    if after == before + 1:
        in_step = [a for a, v in synced_versions(con, name).items() if v == before]
        record_synced(con, name, {*in_step, *(accounts if before == 0 else ())}, after)


def merge_rows(
    target: DeltaTable,
    table: Table,
    reader: pa.RecordBatchReader,
    partitions: list[str],
    held: frozenset,
) -> None:
    """Merge ``reader``'s rows of ``partitions`` into ``target`` on the key: new rows are
    added, a row is replaced only by a newer state of it."""
    # the literal scope lets the merge skip the files of other accounts and days
    on = " AND ".join(
        [f"({scope_predicate(table, partitions, held, 't.')})"]
        + [f"t.{q(c)} = s.{q(c)}" for c in (*lake_partitions(table), *table.key)]
    )
    merge_into(target, reader, on, newer=NEWER)


def merge_into(target: DeltaTable, source: object, on: str, *, newer: str | None = None) -> None:
    """One Delta merge of ``source`` (alias ``s``) into ``target`` (``t``) on ``on``: rows
    matched are replaced (only those ``newer`` holds for, when given), the others added."""
    (
        target.merge(
            source,
            predicate=on,
            source_alias="s",
            target_alias="t",
            post_commithook_properties=commit_hooks(),
        )
        .when_matched_update_all(predicate=newer)
        .when_not_matched_insert_all()
        .execute()
    )
