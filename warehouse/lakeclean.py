"""The lake's daily clean-up: files joined (compaction) and old files deleted (vacuum).

Both are housekeeping: a table that cannot be cleaned now (another worker is cleaning it,
the store is away) is cleaned the next day, so failures are only logged. Tables are
independent, so they are cleaned several at once (``warehouse.lakebatch``); what a
compaction leaves to note in the warehouse is written afterwards on its connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import duckdb

from transforms.catalogue import Table, TableKind
from warehouse.bookkeeping import MERGED_KINDS
from warehouse.deltalog import log_prefix
from warehouse.lake import TABLE_CONFIGURATION, TABLES_PREFIX
from warehouse.lakebatch import TABLES_AT_ONCE, each
from warehouse.lakerows import advance, commit_hooks, per_account
from warehouse.lakestate import TableState, note_state

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from warehouse.lake import Lake, Later

log = logging.getLogger("t212_etl")

# files a commit replaced stay this long for readers of older versions, then are removed
# (Delta's own default); the clean-up runs at most once a day per worker
VACUUM_RETENTION_HOURS = 168


def compact_tables(lake: Lake, con: duckdb.DuckDBPyConnection, tables: Iterable[Table]) -> int:
    """Join the files merges and appends added to the held accounts' partitions (one per
    publish), and to the run log's tables, into few; returns how many files were joined."""
    held = [str(a) for a in sorted(lake.held or ())]
    wanted = [
        t
        for t in tables
        if held and ((t.kind in MERGED_KINDS and per_account(t)) or t.kind == TableKind.LOG)
    ]

    def compact(table: Table) -> tuple[int, int, int, TableState | None] | None:
        try:
            target = lake.kept(table.name)
            if target is None:
                return None
            before = target.version()
            done = target.optimize.compact(
                partition_filters=[("account_id", "in", held)] if per_account(table) else None,
                post_commithook_properties=commit_hooks(),
            )
            learned = _learned(lake, table, target, before)
            return before, target.version(), int(done.get("numFilesRemoved", 0)), learned
        except Exception as exc:  # the next day's clean-up tries again
            lake.forget(table.name)
            log.warning("lake: %s not compacted (%s)", table.name, str(exc).splitlines()[0])
            return None

    joined = 0
    for table, outcome in zip(wanted, each(compact, wanted, TABLES_AT_ONCE), strict=True):
        if outcome is not None:
            before, after, files, learned = outcome
            advance(con, table.name, before, after)
            if after != before:
                note_state(con, table, learned)
            joined += files
    return joined


def _learned(lake: Lake, table: Table, target: DeltaTable, before: int) -> TableState | None:
    """The state a clean-up's commits made, for the next run's direct commits."""
    return None if target.version() == before else lake.direct.learn(table, target)


def vacuum_tables(lake: Lake, tables: Iterable[Table]) -> tuple[int, Later]:
    """Delete files no version younger than the retention reads, and log entries past the
    log's retention; returns how many files, and the tables' states to note."""
    lake.store.guard()  # a lost lease or an unreachable store: nothing to try

    def vacuum(table: Table) -> tuple[int, Later]:
        try:
            target = lake.kept(table.name)
            if target is None:
                return 0, []
            before = target.version()
            removed = target.vacuum(
                retention_hours=VACUUM_RETENTION_HOURS,
                dry_run=False,
                post_commithook_properties=commit_hooks(),
            )
            target.cleanup_metadata()  # log entries past the log's retention, once a day
            if removed:
                target.update_incremental()  # the vacuum's own commits
            if _checkpoint_due(lake, table, target.version()):
                target.create_checkpoint()
            learned = _learned(lake, table, target, before)
            return len(removed), [lambda con: note_state(con, table, learned)] if learned else []
        except Exception as exc:  # the next day's clean-up tries again
            lake.forget(table.name)
            log.warning("lake: %s not cleaned up (%s)", table.name, str(exc).splitlines()[0][:160])
            return 0, []

    done = each(vacuum, list(tables), TABLES_AT_ONCE)
    return sum(n for n, _ in done), [note for _, notes in done for note in notes]


def _checkpoint_due(lake: Lake, table: Table, version: int) -> bool:
    """Whether the log has grown the checkpoint interval since its last checkpoint: direct
    commits write none, and a load reads a checkpoint (about 11 ranged GETs) and each entry
    after it (2 GETs), so one is written once as many entries would cost more."""
    found = lake.store.get_bytes(f"{log_prefix(f'{TABLES_PREFIX}/{table.name}')}_last_checkpoint")
    last = json.loads(found).get("version", -1) if found else -1
    return version - last >= int(TABLE_CONFIGURATION["delta.checkpointInterval"])
