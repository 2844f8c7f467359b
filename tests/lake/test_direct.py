"""Commits written directly from a verified note: their cost; every doubt left to the library."""

from __future__ import annotations

import json

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import warehouse.lake
from tests.lake.test_increments import LAKES, ORDERS, PARTITION, Worker
from transforms.catalogue import TABLES
from warehouse.bookkeeping import RUNS, SETTINGS
from warehouse.deltalog import ENGINE
from warehouse.lake import Lake, LakeError
from warehouse.lakebatch import load_tables
from warehouse.lakeclean import vacuum_tables
from warehouse.objectstore import ObjectStore


def _refused(self, name):
    raise AssertionError(f"the library loaded {name}")


def _unreferenced(store: ObjectStore, prefix: str) -> set[str]:
    """Data files under ``prefix`` that no log entry adds."""
    added = set()
    for key in store.list(f"{prefix}/_delta_log/"):
        if key.endswith(".json"):
            for line in store.get_bytes(key).splitlines():
                action = json.loads(line)
                if "add" in action:
                    added.add(f"{prefix}/{action['add']['path']}")
    data = {k for k in store.list(prefix) if "_delta_log" not in k}
    return data - added


def _versions(worker: Worker) -> list[tuple[int, str]]:
    history = worker.lake.open_table("orders").history()
    return [(c["version"], c.get("clientVersion", "")) for c in history]


def test_a_quiet_night_is_a_listing_a_file_and_an_entry(storage_url):
    worker = Worker(storage_url)
    worker.run(range(40))
    worker.publish()  # the library's: the first commit of the account
    worker.run(range(40, 45))  # the note verified by one listing
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(warehouse.lake.Lake, "open_table", _refused)
        sent = worker.lake.store.requests
        worker.publish()
    assert worker.lake.store.requests - sent == 2  # the Parquet file, then the log entry
    assert worker.last_commit()["clientVersion"] == ENGINE
    assert worker.remote() == worker.local()


def test_a_commit_made_between_the_listing_and_the_entry_goes_to_the_library(storage_url):
    worker, other = Worker(storage_url), Worker(storage_url)
    worker.run(range(30))
    worker.publish()
    worker.run(range(30, 35))  # verified: the lake is as the worker left it
    other.run(range(25, 40))  # then another worker of the account commits
    other.publish()
    worker.publish()  # the direct entry is refused; the library merges on the key
    assert worker.last_commit()["operation"] == "MERGE"
    assert {r[0] for r in worker.remote()} == set(range(40))
    assert len(worker.remote()) == 40
    # the file of the refused commit is in the store, and in no version of the table
    assert len(_unreferenced(ObjectStore(storage_url), "tables/orders")) == 1


def test_a_table_made_again_to_the_same_version_is_not_taken_for_the_noted_one(storage_url):
    worker = Worker(storage_url)
    worker.run(range(10))
    worker.publish()
    noted = worker.lake.open_table("orders").version()
    store = ObjectStore(storage_url)
    for key in list(store.list("tables/orders/")):
        store.delete(key)
    other = Worker(storage_url)  # a new table whose last version is the noted number
    other.run(range(100, 103))
    other.publish()
    while other.lake.open_table("orders").version() < noted:
        other.run(range(0))
        other.publish()
    assert other.lake.open_table("orders").version() == noted
    worker.run(range(10, 12))
    worker.publish()
    assert worker.last_commit()["clientVersion"] != ENGINE
    assert {r[0] for r in worker.remote()} == {*range(12), *range(100, 103)}


def test_a_run_killed_between_the_file_and_the_entry_leaves_the_last_version(storage_url):
    worker = Worker(storage_url)
    worker.run(range(20))
    worker.publish()
    before = worker.remote()
    worker.run(range(20, 25))

    def killed(self, key, data):
        raise OSError("killed")

    with pytest.MonkeyPatch.context() as patch, pytest.raises(LakeError, match="killed"):
        patch.setattr(ObjectStore, "create", killed)
        worker.publish()
    worker.con.execute("ROLLBACK")
    worker.lake = worker._lake()  # the next process
    assert worker.remote() == before  # readers see the last version, not the file put
    worker.run(range(25, 26))
    worker.publish()
    assert worker.last_commit()["clientVersion"] == ENGINE
    assert worker.remote() == worker.local()


def test_two_workers_replacing_a_list_directly_at_once_leave_one_copy(storage_url):
    exchanges = TABLES["exchanges"]
    workers = [Worker(storage_url), Worker(storage_url)]
    for i, worker in enumerate(workers):
        worker.con.execute(exchanges.duckdb_ddl())
        worker.con.execute(
            "INSERT INTO exchanges SELECT range, 'exchange ' || range, now(), ? FROM range(5)",
            [f"worker-{i}"],
        )
    first, second = workers
    first.lake.publish(first.con, exchanges, ["*"])
    second.run(range(0))  # the second worker's note of the list: the first's commit
    second.lake.open_table("exchanges")  # the library loads it
    second.lake.publish(second.con, exchanges, ["*"])
    # the first worker's database restored from the second's copy (a new machine), the
    # old one still running: both verify the same note, then both replace the list
    noted = second.con.execute("SELECT * FROM settings WHERE name LIKE 'lake_table:%'")
    first.con.executemany("INSERT OR REPLACE INTO settings VALUES (?, ?)", noted.fetchall())
    for worker in workers:
        worker.run(range(0))
        load_tables(worker.lake, ["exchanges"], fresh=True)
        assert worker.lake.direct.usable(exchanges) is not None
    for worker in workers:
        worker.lake.publish(worker.con, exchanges, ["*"])
    history = second.lake.open_table("exchanges").history(2)
    # the first wrote its entry directly; the second's was refused, and the library's
    # commit replaced the first's list
    assert [c.get("clientVersion") == ENGINE for c in history] == [False, True]
    data = second.lake.open_table("exchanges").to_pyarrow_table()
    assert data.num_rows == 5
    assert set(data.column("_run_id").to_pylist()) == {"worker-1"}


def test_the_daily_clean_up_writes_a_checkpoint_and_the_note_stays_good(storage_url):
    worker = Worker(storage_url)
    for night in range(12):
        worker.run(range(night * 3, night * 3 + 3))
        worker.publish()
    assert max(v for v, c in _versions(worker) if c == ENGINE) >= 10
    worker.run(range(0))
    _, notes = vacuum_tables(worker.lake, [ORDERS])
    assert notes == []  # a checkpoint adds no version: the note holds
    version = worker.lake.open_table("orders").version()
    store = ObjectStore(storage_url)
    assert store.get_bytes(f"tables/orders/_delta_log/{version:020}.checkpoint.parquet")
    worker.run(range(36, 40))
    assert worker.publish() == [PARTITION]
    assert worker.last_commit()["clientVersion"] == ENGINE
    assert worker.remote() == worker.local()


class RunLog:
    """A worker's run log and the lake it publishes it to, one run after another."""

    def __init__(self, url: str, first: int) -> None:
        self.con = duckdb.connect()
        self.con.execute(RUNS.duckdb_ddl())
        self.con.execute(SETTINGS.duckdb_ddl())
        self.url, self.next = url, first
        self.lake = Lake(url)

    def run(self) -> None:
        """A new run's publisher: the notes read and verified."""
        self.lake = Lake(self.url)
        self.lake.direct.recall(self.con)
        load_tables(self.lake, ["runs"], fresh=False)

    def change(self, event: str) -> None:
        ids = [r[0] for r in self.con.execute("SELECT run_id FROM runs ORDER BY 1").fetchall()]
        if event == "start" or not ids:
            self.next += 1
            self.con.execute(
                "INSERT INTO runs (run_id, started_at, outcome) VALUES (?, now(), 'running')",
                [f"{self.next:08d}"],
            )
            return
        target = ids[0] if event == "old" else ids[-1]
        outcome = f"rewritten {self.next}" if event == "old" else event
        self.con.execute("UPDATE runs SET outcome = ? WHERE run_id = ?", [outcome, target])

    def publish(self, outcome: str) -> None:
        self.con.execute("BEGIN")
        self.lake.publish(self.con, RUNS, ["*"])
        self.con.execute("COMMIT" if outcome == "publish" else "ROLLBACK")

    def rows(self) -> set[tuple]:
        return set(self.con.execute("SELECT run_id, outcome FROM runs").fetchall())


def _lake_runs(url: str) -> list[tuple]:
    data = Lake(url).open_table("runs").to_pyarrow_table()
    return list(
        zip(data.column("run_id").to_pylist(), data.column("outcome").to_pylist(), strict=True)
    )


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.booleans(),  # an older run changed (its outcome written again)
            st.sampled_from(["publish", "publish", "lost", "none"]),  # logged as running
            st.sampled_from(["success", "partial", "failed"]),
            st.sampled_from(["publish", "publish", "lost", "none"]),  # the run's last publish
        ),
        min_size=1,
        max_size=5,
    )
)
# a run logged as running, then finished, two nights in a row: a direct append, then its
# file replaced; and the case Hypothesis found, a commit whose note the database lost
@example([(False, "publish", "success", "publish")] * 3)
@example([(False, "publish", "success", "publish"), (False, "lost", "success", "publish")])
def test_whatever_the_runs_the_lake_holds_each_workers_last_state_once(storage_url, nights):
    url = f"{storage_url}/{next(LAKES)}"
    other = RunLog(url, 50_000_000)  # another worker's runs, in the same tables
    other.change("start")
    other.publish("publish")
    worker = RunLog(url, 0)
    for old, running, outcome, last in nights:
        worker.run()
        if old:
            worker.change("old")
        worker.change("start")
        if running != "none":
            worker.publish(running)
        worker.change(outcome)
        if last != "none":
            worker.publish(last)
    worker.run()
    worker.publish("publish")
    lake = _lake_runs(url)
    assert len(lake) == len(set(lake))  # no run twice
    assert set(lake) == worker.rows() | other.rows()
