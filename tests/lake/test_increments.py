"""A commit of history sends only what changed since the last: new rows are appended."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.catalogue import TABLES
from warehouse.bookkeeping import LOAD_STATE, PENDING_PUBLISH, SETTINGS
from warehouse.deltalog import ENGINE
from warehouse.lake import Lake
from warehouse.lakebatch import load_tables
from warehouse.parquet import add_pending

ORDERS = TABLES["orders"]
ACCOUNT = 7
PARTITION = f'{{"account_id": "{ACCOUNT}"}}'
START = datetime(2026, 1, 1, 2, 0)
LAKES = itertools.count()  # a lake of its own for each example


class Worker:
    """A database of orders and the lake it publishes them to, one run after another."""

    def __init__(self, url: str) -> None:
        self.con = duckdb.connect()
        self.con.execute(ORDERS.duckdb_ddl())
        self.con.execute(SETTINGS.duckdb_ddl())
        self.url = url
        self.lake = self._lake()
        self.night = 0

    def _lake(self) -> Lake:
        lake = Lake(self.url)
        lake.held = frozenset({ACCOUNT})  # as the account's lease holder
        return lake

    def run(self, new: range, changed: list[int] = ()) -> None:
        """One night: ``new`` orders added, the ``changed`` ones given a new status; each run
        reads the lake afresh, as a run's publisher does."""
        self.night += 1
        self.lake = self._lake()
        self.lake.direct.recall(self.con)  # as a run's first publish: its notes, verified
        load_tables(self.lake, ["orders"], fresh=False)
        stamp, run_id = START + timedelta(days=self.night), f"run-{self.night}"
        for order in new:
            self.con.execute(
                'INSERT INTO orders ("account_id", "order_id", "status", "_loaded_at", "_run_id") '
                "VALUES (?, ?, 'NEW', ?, ?)",
                [ACCOUNT, order, stamp, run_id],
            )
        for order in changed:
            self.con.execute(
                'UPDATE orders SET "status" = ?, "_loaded_at" = ?, "_run_id" = ? '
                'WHERE "order_id" = ?',
                [f"FILLED-{self.night}", stamp, run_id, order],
            )

    def publish(self) -> list[str]:
        """One publish of the account's orders, as ``publish_pending`` makes it."""
        self.con.execute("BEGIN")
        done = self.lake.publish(self.con, ORDERS, [PARTITION])
        self.con.execute("COMMIT")
        return done

    def publish_lost(self) -> None:
        """A publish whose lake commit lands but whose database transaction does not."""
        self.con.execute("BEGIN")
        self.lake.publish(self.con, ORDERS, [PARTITION])
        self.con.execute("ROLLBACK")

    def local(self) -> list[tuple]:
        return sorted(
            self.con.execute('SELECT "order_id", "status", "_run_id" FROM orders').fetchall()
        )

    def remote(self) -> list[tuple]:
        data = self.lake.open_table("orders").to_pyarrow_table()
        cols = [data.column(c).to_pylist() for c in ("order_id", "status", "_run_id")]
        return sorted(zip(*cols, strict=True))

    def last_commit(self) -> dict:
        return self.lake.open_table("orders").history(1)[0]


def test_new_rows_are_appended_alone_and_an_update_is_merged(storage_url):
    worker = Worker(storage_url)
    worker.run(range(100))
    worker.publish()
    assert worker.last_commit()["operation"] == "WRITE"  # the lake has none of the account

    worker.run(range(100, 110))
    worker.publish()
    commit = worker.last_commit()
    assert commit["operation"] == "WRITE" and commit["operationParameters"]["mode"] == "Append"
    assert commit["operationMetrics"]["num_added_rows"] == 10  # the new rows, nothing else
    assert commit["clientVersion"] == ENGINE  # written directly: the note was verified
    assert worker.remote() == worker.local()

    worker.run(range(110, 115), changed=[3])
    worker.publish()
    commit = worker.last_commit()
    assert commit["operation"] == "MERGE" and commit["clientVersion"] != ENGINE
    metrics = commit["operationMetrics"]
    assert metrics["num_source_rows"] == 6  # the changed rows only, not the 115 in scope
    assert (metrics["num_target_rows_inserted"], metrics["num_target_rows_updated"]) == (5, 1)
    assert (3, "FILLED-3", "run-3") in worker.remote()
    assert worker.remote() == worker.local()

    worker.run(range(115, 120))
    worker.publish()
    assert worker.last_commit()["operation"] == "WRITE"
    assert worker.remote() == worker.local()


def test_nothing_changed_commits_nothing(storage_url):
    worker = Worker(storage_url)
    worker.run(range(20))
    worker.publish()
    version = worker.lake.open_table("orders").version()
    assert worker.publish() == [PARTITION]
    assert worker.lake.open_table("orders").version() == version


def test_a_lake_ahead_of_the_database_bookkeeping_is_merged_not_appended_twice(storage_url):
    worker = Worker(storage_url)
    worker.run(range(50))
    worker.publish()
    worker.run(range(50, 60))
    worker.publish_lost()  # appended, but the database forgot it did
    assert len(worker.remote()) == 60
    worker.publish()  # merged: the rows are there already, so nothing is committed
    operations = [c["operation"] for c in worker.lake.open_table("orders").history()]
    assert operations.count("WRITE") == 2  # the first commit and the lost one, no third
    assert worker.remote() == worker.local()


def test_another_writer_of_the_account_makes_the_next_commit_merge(storage_url):
    worker, other = Worker(storage_url), Worker(storage_url)
    worker.run(range(30))
    worker.publish()
    other.run(range(25, 40))  # a worker that held the account meanwhile, not caught up with
    other.publish()
    worker.run(range(40, 45))
    worker.publish()
    assert worker.last_commit()["operation"] == "MERGE"
    assert {r[0] for r in worker.remote()} == set(range(45))
    assert len(worker.remote()) == 45  # each order once


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    nights=st.lists(
        st.tuples(
            st.integers(0, 6),  # new orders
            st.lists(st.integers(0, 40), max_size=3),  # orders changed (when they exist)
            st.sampled_from(["publish", "lost", "none"]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_whatever_the_nights_the_lake_ends_equal_to_the_database(storage_url, nights):
    worker = Worker(f"{storage_url}/{next(LAKES)}")
    count = 0
    for new, changed, outcome in nights:
        worker.run(range(count, count + new), [c for c in changed if c < count])
        count += new
        if outcome == "publish":
            worker.publish()
        elif outcome == "lost":
            worker.publish_lost()
    worker.publish()
    assert worker.remote() == worker.local()


def test_rows_waiting_to_be_published_are_no_difference_for_the_check(storage_url):
    worker = Worker(storage_url)
    for table in (LOAD_STATE, PENDING_PUBLISH):
        worker.con.execute(table.duckdb_ddl())
    worker.con.execute(
        f"INSERT INTO {LOAD_STATE.name} (account_id, resource) VALUES (?, 'orders')", [ACCOUNT]
    )
    worker.run(range(10))
    worker.publish()
    worker.run(range(10, 12))  # merged beside the check, not published yet
    lake = worker.lake
    assert lake.problems(worker.con, ORDERS) == [
        f"{lake.table_uri('orders')} account {ACCOUNT}: has 10 rows, DuckDB has 12"
    ]
    add_pending(worker.con, {("orders", PARTITION)})
    assert lake.problems(worker.con, ORDERS) == []  # the publish sends them; no repair of all
    worker.publish()
    assert worker.last_commit()["operationMetrics"]["num_added_rows"] == 2
