"""Leases that exclude: the store's clock, the holder's fencing, PID namespaces, file:// races."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

import warehouse.leases as leases_module
from tests.lake.checks import read_bytes
from tests.lake.test_workers import dead_pid
from warehouse.lake import Lake
from warehouse.leases import AccountBusy, LeaseLost, Leases, process_identity
from warehouse.objectstore import ObjectStore, ObjectStoreError
from warehouse.parquet import PUBLISHED

ROOT = Path(__file__).parents[2]
ACCOUNT, KEY = 7, "leases/7.json"
HOST = socket.gethostname()


@pytest.fixture(params=[pytest.param("s3", marks=pytest.mark.slow), "file"])  # moto for s3
def store_url(request, tmp_path) -> str:
    """A fresh store of each kind: moto's S3 and a local directory."""
    if request.param == "s3":
        return request.getfixturevalue("storage_url")
    return f"file://{tmp_path / 'lake'}"


def foreign(host: str = "elsewhere", pid: int = 4242, **extra: object) -> bytes:
    """A lease another process wrote a moment ago (renewed five minutes before its clock)."""
    renewed = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {"host": host, "pid": pid, "started_at": renewed, "renewed_at": renewed, **extra}
    return json.dumps(body).encode()


class Skewed(datetime):
    """The wall clock of a host running 26 minutes ahead."""

    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + timedelta(minutes=26)


def test_a_clock_running_ahead_does_not_take_a_live_lease(store_url, monkeypatch):
    store = ObjectStore(store_url)
    store.put_bytes(KEY, foreign())
    monkeypatch.setattr(leases_module, "datetime", Skewed)
    with pytest.raises(AccountBusy), Leases(store, {ACCOUNT: "isa"}):
        pass
    assert json.loads(read_bytes(store, KEY))["host"] == "elsewhere"


def test_a_dead_pid_in_another_pid_namespace_says_nothing(store_url):
    """Containers sharing a hostname: the holder's pid is checked only in its own namespace."""
    store = ObjectStore(store_url)
    other = foreign(HOST, dead_pid(), process="another-boot/4026531836")
    store.put_bytes(KEY, other)
    with pytest.raises(AccountBusy), Leases(store, {ACCOUNT: "isa"}):
        pass
    assert read_bytes(store, KEY) == other
    # the same namespace, the same boot: a dead holder's lease is taken at once
    store.put_bytes(KEY, foreign(HOST, dead_pid(), process=process_identity()))
    with Leases(store, {ACCOUNT: "isa"}, identity=process_identity()):
        assert json.loads(read_bytes(store, KEY))["pid"] == os.getpid()


def test_a_lease_is_free_once_the_store_clock_says_its_term_ran_out(tmp_path):
    store = ObjectStore(f"file://{tmp_path / 'lake'}")
    store.put_bytes(KEY, foreign(term_seconds=60))
    with pytest.raises(AccountBusy), Leases(store, {ACCOUNT: "isa"}):
        pass
    path = tmp_path / "lake" / KEY
    old = path.stat().st_mtime - 61  # last written 61 s ago by the store's clock
    os.utime(path, (old, old))
    with Leases(store, {ACCOUNT: "isa"}):
        assert json.loads(read_bytes(store, KEY))["pid"] == os.getpid()


def test_the_store_clock_is_the_store_modification_time(storage_url):
    store = ObjectStore(storage_url)
    store.put_bytes("leases/x", b"x")
    _, _, modified = store.read("leases/x")
    assert abs(store.now("leases") - modified) < timedelta(seconds=30)
    assert [k for k in store.list("leases")] == ["leases/x"]  # the probe is gone


def test_a_released_lease_is_taken_without_reading_the_store_clock(store_url, monkeypatch):
    store = ObjectStore(store_url)
    with Leases(store, {ACCOUNT: "isa"}):
        pass
    assert json.loads(read_bytes(store, KEY))["released_at"]
    clock = ObjectStore.now
    monkeypatch.setattr(ObjectStore, "now", lambda *a: pytest.fail("the clock was read"))
    with Leases(store, {ACCOUNT: "isa"}):  # the run of the next night
        pass
    store.put_bytes(KEY, foreign())  # a live lease: only its age says whether it is free
    monkeypatch.setattr(ObjectStore, "now", clock)
    with pytest.raises(AccountBusy), Leases(store, {ACCOUNT: "isa"}):
        pass


def test_only_the_holder_renews_and_releases(store_url):
    store = ObjectStore(store_url)
    holder = Leases(store, {ACCOUNT: "isa"})
    with holder:
        taker = foreign(token="taker")
        store.put_bytes(KEY, taker)  # another process took the lease meanwhile
        if hasattr(holder, "renew"):
            holder.renew()
            with pytest.raises(LeaseLost, match="taken by another process"):
                holder.check()
    assert read_bytes(store, KEY) == taker  # its release left the new holder's lease alone


def test_a_holder_that_cannot_renew_stops_writing_before_its_lease_can_be_taken(
    store_url, monkeypatch
):
    clock = [1000.0]
    store, lake = ObjectStore(store_url), Lake(store_url)
    leases = Leases(store, {ACCOUNT: "isa"}, monotonic=lambda: clock[0])
    leases.take()
    lake.store.fence = leases.check

    def unreachable(*args, **kwargs):
        raise ObjectStoreError("replacing leases/7.json failed (timed out)")

    monkeypatch.setattr(store, "replace", unreachable)
    limit = (leases.term - leases.margin).total_seconds()
    clock[0] += limit - 1
    leases.renew()  # fails: the last renewal stays the take
    leases.check()
    lake.store.put_bytes("raw/ok", b"")  # still in time
    clock[0] += 2
    with pytest.raises(LeaseLost, match="could not be renewed"):
        lake.publish(duckdb.connect(), PUBLISHED["instruments"], ["*"])
    with pytest.raises(LeaseLost):
        lake.store.put_bytes("duckdb/late.duckdb", b"")
    assert read_bytes(lake.store, "duckdb/late.duckdb") is None
    # the taker, by the store's clock, waits the full term: more than the holder wrote for
    assert leases.term > timedelta(seconds=limit + 60)


RACER = """
import sys
from warehouse.leases import AccountBusy, Leases
from warehouse.objectstore import ObjectStore

store = ObjectStore(sys.argv[1])
for _ in sys.stdin:
    leases = Leases(store, {7: "race"})
    try:
        leases.__enter__()
    except AccountBusy:
        print("busy", flush=True)
    else:
        leases._stop.set()  # holds the lease, renews nothing: the test plants the next one
        print("won", flush=True)
"""


def test_on_a_local_store_exactly_one_of_many_processes_takes_a_stale_lease(tmp_path):
    url, path = f"file://{tmp_path / 'lake'}", tmp_path / "lake" / KEY
    store = ObjectStore(url)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    winners = []
    try:
        for _ in range(30):
            stale = datetime.now(UTC) - timedelta(hours=2)
            store.put_bytes(KEY, foreign(renewed_at=stale.isoformat()))
            os.utime(path, (stale.timestamp(), stale.timestamp()))
            for racer in racers:
                racer.stdin.write("go\n")
                racer.stdin.flush()
            answers = [racer.stdout.readline().strip() for racer in racers]
            winners.append(answers.count("won"))
    finally:
        for racer in racers:
            racer.stdin.close()
            racer.wait(timeout=30)
    assert winners == [1] * 30


def test_each_renewal_asks_a_store_that_did_not_answer_last_time(store_url):
    clock = [0.0]
    store = ObjectStore(store_url)
    leases = Leases(store, {ACCOUNT: "isa"}, monotonic=lambda: clock[0])
    leases.take()
    store.down = "replacing leases/7.json failed (timed out)"  # the last round's failure
    clock[0] += (leases.term - leases.margin).total_seconds() - 1
    leases.renew()
    clock[0] += 2
    leases.check()  # renewed a second before the limit: still the holder
    leases.release()
    assert json.loads(read_bytes(store, KEY))["released_at"]


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'{"pid": "x", "host": 3}'])
def test_a_lease_it_cannot_read_is_judged_by_its_age_alone(tmp_path, body):
    store = ObjectStore(f"file://{tmp_path / 'lake'}")
    store.put_bytes(KEY, body)
    with pytest.raises(AccountBusy), Leases(store, {ACCOUNT: "isa"}):
        pass
    path = tmp_path / "lake" / KEY
    old = path.stat().st_mtime - leases_module.TERM.total_seconds() - 1
    os.utime(path, (old, old))
    with Leases(store, {ACCOUNT: "isa"}):
        assert json.loads(read_bytes(store, KEY))["pid"] == os.getpid()
