"""Tables published at once: the same lake and notes as one by one, and all or nothing noted."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import duckdb
import pytest
from deltalake.exceptions import CommitFailedError

import warehouse.lake
from transforms.catalogue import TABLES
from warehouse import Warehouse
from warehouse.bookkeeping import SETTINGS
from warehouse.lake import COMMIT_ATTEMPTS, Lake, LakeConflict, LakeError
from warehouse.lakebatch import each, publish_tables
from warehouse.lakepublisher import LakePublisher
from warehouse.parquet import PUBLISHED

ACCOUNTS = (7, 8)
HISTORY = ("orders", "dividends", "transactions")
STAMP = datetime(2026, 3, 1, 2, 0)


def test_each_runs_the_items_at_once_and_keeps_their_order():
    met = threading.Barrier(3, timeout=10)  # broken unless three run at the same time
    assert each(lambda n: (met.wait(), n * n)[1], [1, 2, 3], at_once=3) == [1, 4, 9]


def test_each_never_runs_more_than_asked_at_once():
    running, most, lock = 0, 0, threading.Lock()

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n

    assert each(work, list(range(8)), at_once=2) == list(range(8))
    assert most == 2


def test_each_finishes_every_item_then_raises_the_first_error_in_order():
    done = []

    def work(n: int) -> int:
        if n == 1:
            time.sleep(0.05)  # fails last in time, first in order
            raise ValueError("one")
        if n == 3:
            raise KeyError("three")
        time.sleep(0.02)
        done.append(n)
        return n

    with pytest.raises(ValueError, match="one"):
        each(work, list(range(5)), at_once=5)
    assert sorted(done) == [0, 2, 4]


def worker(tmp_path, name: str) -> tuple[duckdb.DuckDBPyConnection, Lake]:
    """A database with two accounts' history and the instruments, and a lake of its own."""
    con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
    con.execute(SETTINGS.duckdb_ddl())
    for table in (*HISTORY, "instruments"):
        con.execute(TABLES[table].duckdb_ddl())
    for account in ACCOUNTS:
        for n in range(40):
            for table, key in (("orders", "order_id"),):
                con.execute(
                    f'INSERT INTO {table} ("account_id", "{key}", "_loaded_at", "_run_id") '
                    "VALUES (?, ?, ?, 'run-1')",
                    [account, n, STAMP],
                )
            for table in ("dividends", "transactions"):
                con.execute(
                    f'INSERT INTO {table} ("account_id", "reference", "_loaded_at", "_run_id") '
                    "VALUES (?, ?, ?, 'run-1')",
                    [account, f"ref-{n}", STAMP],
                )
    con.execute(
        'INSERT INTO instruments ("ticker", "_loaded_at", "_run_id") '
        "SELECT 'T' || i, ?, 'run-1' FROM range(30) r(i)",
        [STAMP],
    )
    lake = Lake(f"file://{tmp_path / name / 'lake'}")
    lake.held = frozenset(ACCOUNTS)  # as the accounts' lease holder
    return con, lake


def pending() -> list:
    partitions = [f'{{"account_id": "{a}"}}' for a in ACCOUNTS]
    return [(TABLES[n], partitions) for n in HISTORY] + [(TABLES["instruments"], ["*"])]


def contents(lake: Lake, name: str) -> list:
    data = lake.open_table(name).to_pyarrow_table().drop_columns(["_loaded_at"])
    return sorted(map(repr, data.to_pylist()))


def notes(con: duckdb.DuckDBPyConnection) -> list:
    return con.execute(f"SELECT * FROM {SETTINGS.name} ORDER BY ALL").fetchall()


def publish_round(con: duckdb.DuckDBPyConnection, lake: Lake, *, at_once: bool) -> list:
    """One publish of every table's pending partitions, in a transaction."""
    con.execute("BEGIN")
    if at_once:
        published = publish_tables(lake, con, pending())
    else:
        published = [(t.name, p) for t, parts in pending() for p in lake.publish(con, t, parts)]
    con.execute("COMMIT")
    return published


def test_tables_published_at_once_leave_what_one_by_one_leaves(tmp_path):
    workers = {at_once: worker(tmp_path, f"at-once-{at_once}") for at_once in (True, False)}
    for night in (1, 2):
        for at_once, (con, lake) in workers.items():
            if night == 2:  # a night later: five orders changed, two new (merged, not appended)
                con.execute(
                    "UPDATE orders SET status = 'FILLED', _loaded_at = _loaded_at + INTERVAL 1 DAY "
                    "WHERE order_id < 5 AND account_id = 7"
                )
                con.execute(
                    'INSERT INTO orders ("account_id", "order_id", "_loaded_at", "_run_id") '
                    "VALUES (8, 100, ?, 'run-2'), (8, 101, ?, 'run-2')",
                    [STAMP, STAMP],
                )
            published = publish_round(con, lake, at_once=at_once)
            assert published == [(t.name, p) for t, parts in pending() for p in parts]
    (con, lake), (serial_con, serial_lake) = workers[True], workers[False]
    for name in (*HISTORY, "instruments"):
        assert contents(lake, name) == contents(serial_lake, name), name
    # the notes of what the lake holds, per table and account, are the same
    assert notes(con) == notes(serial_con)
    assert len([n for n, _ in notes(con) if n.startswith("lake_sent:")]) == 6
    assert lake.commits == serial_lake.commits == 8


def test_one_failed_table_notes_nothing_and_the_next_publish_sends_all(tmp_path, monkeypatch):
    con, lake = worker(tmp_path, "failing")
    real = Lake.publish_table
    commits_before = []

    def failing(self, read, table, partitions):
        if table.name == "dividends":
            raise LakeError("the store refused dividends")
        commits_before.append(table.name)
        return real(self, read, table, partitions)

    monkeypatch.setattr(warehouse.lake.Lake, "publish_table", failing)
    con.execute("BEGIN")
    with pytest.raises(LakeError, match="dividends"):
        publish_tables(lake, con, pending())
    # every other table's commit was finished before the error, and nothing was noted
    others = [n for n in (*HISTORY, "instruments") if n != "dividends"]
    assert sorted(commits_before) == sorted(others)
    assert lake.commits == 3
    assert notes(con) == []
    con.execute("ROLLBACK")

    monkeypatch.setattr(warehouse.lake.Lake, "publish_table", real)
    con.execute("BEGIN")
    publish_tables(lake, con, pending())
    con.execute("COMMIT")
    for name in (*HISTORY, "instruments"):
        local = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        assert lake.open_table(name).to_pyarrow_table().num_rows == local, name


def test_a_commit_losing_every_race_is_tried_a_bounded_number_of_times(tmp_path, monkeypatch):
    con, _ = worker(tmp_path, "conflicts")
    waits: list[float] = []
    lake = Lake(f"file://{tmp_path / 'conflicts-lake'}", sleep=waits.append)
    tries = []

    def always_conflicting(self, read, table, predicate, accounts):
        tries.append(table.name)
        raise CommitFailedError("another writer committed version 1 first")

    monkeypatch.setattr(warehouse.lake.Lake, "_overwrite", always_conflicting)
    lost = f"conflicted with other writers {COMMIT_ATTEMPTS} times"
    with pytest.raises(LakeConflict, match=lost):
        lake.publish(con, TABLES["instruments"], ["*"])
    assert tries == ["instruments"] * COMMIT_ATTEMPTS
    assert len(waits) == COMMIT_ATTEMPTS - 1 and all(w > 0 for w in waits)
    assert lake.commits == 0


def test_a_first_publish_leaves_every_table_in_the_lake_the_empty_ones_too(tmp_path):
    """Before any account's rows arrive, the run's check finds the lake without its tables;
    the next publish creates them, also those no publish would write (no rows at all)."""
    lake = Lake(f"file://{tmp_path / 'lake'}")
    publisher = LakePublisher(lake)
    held = publisher.held({7: "invest"})
    with held, Warehouse.open(tmp_path / "data", publisher=publisher) as wh:
        wh.run_log.record_run("run-1", started_at=STAMP, outcome="success")
        wh.repair_parquet()  # as a run starts: reads every table's state in the lake
        wh.publish_parquet()
    reader = Lake(lake.url)
    tables = {name: reader.open_table(name) for name in PUBLISHED}
    assert [name for name, table in tables.items() if table is None] == []
    rows = {name: table.to_pyarrow_table().num_rows for name, table in tables.items()}
    assert rows == {name: int(name == "runs") for name in PUBLISHED}
