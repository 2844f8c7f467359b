"""Group commit: accounts merged together end exactly as merged one by one, each all or nothing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.warehouse.conftest import T0, T1, dividend, position, rows_table, summary
from warehouse import MergeCounts, Warehouse, groupcommit
from warehouse.groupcommit import GroupCommit, Member
from warehouse.groupmerge import merge_group, ready_whole
from warehouse.merge import Load

ACCOUNTS = (11, 12, 13)
STATE = ("dividends", "positions", "load_state", "pending_publish")


def _dump(wh: Warehouse) -> dict[str, list[tuple]]:
    return {n: wh.fetch(f'SELECT * FROM "{n}" ORDER BY ALL') for n in STATE}


def _tables(name: str, account: int, rows: list[tuple]) -> dict:
    """One account's rows of ``name``: dividends (reference, amount) or positions
    (ticker, quantity, snapshot time)."""
    if name == "dividends":
        made = [dividend(ref, amount, account=account) for ref, amount in rows]
    else:
        made = [position(t, qty, "1", account=account, at=at) for t, qty, at in rows]
    return {name: rows_table(name, made)}


_dividends = st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(["1", "2.5"])), max_size=5)
_positions = st.tuples(st.sampled_from([T0, T1]), st.lists(st.sampled_from("XYZ"), max_size=3)).map(
    lambda snap: [(t, str(i + 1), snap[0]) for i, t in enumerate(snap[1])]
)


def _accounts(rows: st.SearchStrategy) -> st.SearchStrategy:
    """Per account: the rows it held before and the rows it brings now."""
    return st.lists(st.tuples(rows, rows), min_size=2, max_size=len(ACCOUNTS))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=st.one_of(
        st.tuples(st.just("dividends"), _accounts(_dividends)),
        st.tuples(st.just("positions"), _accounts(_positions)),
    )
)
def test_a_group_ends_as_its_accounts_merged_one_by_one(tmp_path_factory, case):
    name, accounts = case
    data = tmp_path_factory.mktemp("group")
    with Warehouse.open(data / "one") as one, Warehouse.open(data / "all") as together:
        for wh in (one, together):
            for account, (before, _) in zip(ACCOUNTS, accounts, strict=False):
                wh.merge_resource(Load(name, account, "r1", T0), _tables(name, account, before), {})
            wh.publish_parquet()  # pending only what the accounts' new rows change
        loads = [(Load(name, a, "r2", T1), _tables(name, a, now), {"n": a})
                 for a, (_, now) in zip(ACCOUNTS, accounts, strict=False)]  # fmt: skip
        alone = [one.merge_resource(*load) for load in loads]
        group = [ready_whole(*load) for load in loads]
        assert together.transaction(lambda con: merge_group(con, group)) == alone
        assert _dump(together) == _dump(one)


def _at_once(wh: Warehouse, merges: list[Callable[[Callable[[], None]], dict]]) -> list:
    """Run ``merges`` on threads queued behind the lock, so one leader takes them all.

    Each merge calls the function it is given when it is about to merge; each outcome is
    its counts or the error it raised.
    """
    outcomes: list = [None] * len(merges)
    about, go = threading.Semaphore(0), threading.Event()

    def ready() -> None:
        about.release()
        go.wait(timeout=20)

    def run(i: int) -> None:
        try:
            outcomes[i] = merges[i](ready)
        except Exception as exc:
            outcomes[i] = exc

    def hold(con: object) -> None:  # holds the warehouse's lock until every merge queued
        go.set()
        deadline = time.monotonic() + 20
        while wh.group.waiting() < len(merges) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert wh.group.waiting() == len(merges)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(merges))]
    for thread in threads:
        thread.start()
    for _ in merges:
        assert about.acquire(timeout=20)
    wh.transaction(hold)
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def _history(account: int, refs: str, amount: str) -> dict:
    return {
        "dividends": rows_table("dividends", [dividend(r, amount, account=account) for r in refs])
    }


def _batch(wh: Warehouse, account: int, ready=lambda: None) -> dict[str, MergeCounts]:
    """A history batch of two chunks; a key of the second repeats one of the first."""
    with wh.merge_batch(Load("dividends", account, "r2", T1)) as batch:
        batch.add(_history(account, "abc", "2"))
        batch.add(_history(account, "cd", "9"))
        ready()
        return batch.commit({"watermark": str(account)})


def test_batches_of_accounts_at_once_commit_together_as_one_by_one(tmp_path, monkeypatch):
    groups = []

    def spy(con, group):
        groups.append(sorted(r.load.account_id for r in group))
        return merge_group(con, group)

    with Warehouse.open(tmp_path / "one") as one, Warehouse.open(tmp_path / "all") as together:
        for wh in (one, together):
            for account in ACCOUNTS:
                wh.merge_resource(
                    Load("dividends", account, "r1", T0), _history(account, "ab", "1"), {}
                )
        alone = [_batch(one, account) for account in ACCOUNTS]
        monkeypatch.setattr(groupcommit, "merge_group", spy)
        grouped = _at_once(together, [lambda go, a=a: _batch(together, a, go) for a in ACCOUNTS])
        assert groups == [list(ACCOUNTS)]  # one transaction for the three
        assert grouped == alone == [{"dividends": MergeCounts(4, 2, 2)}] * 3
        assert _dump(together) == _dump(one)


def test_one_bad_account_fails_alone_and_the_others_commit(tmp_path, caplog):
    def merge(account: int, snapshot_date: object) -> Callable[[Callable[[], None]], dict]:
        held = position("X", "1", "1", account=account) | {"snapshot_date": snapshot_date}
        tables = {
            "account_summaries": rows_table(
                "account_summaries", [summary(T0, "5", account=account)]
            ),
            "positions": rows_table("positions", [held]),
        }
        load = Load("account_summary", account, "r1", T0)
        return lambda go: go() or wh.merge_resource(load, tables, {"n": 1})

    with Warehouse.open(tmp_path / "data") as wh, caplog.at_level(logging.INFO, "t212_etl"):
        # the middle account's position has no date: its partition cannot be named
        outcomes = _at_once(wh, [merge(11, T0.date()), merge(12, None), merge(13, T0.date())])
        assert "account_summary: the merge of 3 accounts together failed" in caplog.text
        one = MergeCounts(1, 1, 0)
        assert outcomes[0] == outcomes[2] == {"account_summaries": one, "positions": one}
        assert isinstance(outcomes[1], ValueError)
        assert str(outcomes[1]) == "positions: partition column snapshot_date has nulls"
        # all or nothing: no row of either table and no cursor of the failed account
        for name in ("account_summaries", "positions"):
            accounts = wh.fetch(f'SELECT DISTINCT "account_id" FROM "{name}" ORDER BY 1')
            assert accounts == [(11,), (13,)]
        assert wh.get_state(12, "account_summary") is None
        assert wh.get_state(13, "account_summary")["cursor"] == {"n": 1}


class _Fake:
    """Members of one resource whose merges are recorded: alone, or handed to a group."""

    def __init__(self) -> None:
        self.alone: list[int] = []
        self.readied: list[int] = []

    def member(self, account: int, rows: int = 1) -> Member:
        def ready() -> None:
            self.readied.append(account)  # None: the member merges alone after all

        def alone() -> dict:
            self.alone.append(account)
            return {"t": MergeCounts(account, 0, 0)}

        return Member(("t",), Load("t", account, "r", T0), rows, ready, alone)


def test_a_lone_merge_waits_for_no_one_and_merges_as_it_always_did():
    fake, lock = _Fake(), threading.RLock()
    group = GroupCommit(lock, lambda work: pytest.fail("no group transaction"))
    assert group.merge(fake.member(1)) == {"t": MergeCounts(1, 0, 0)}
    assert (fake.alone, fake.readied) == ([1], [])


def test_a_leader_takes_what_is_queued_one_per_account_within_the_rows_allowed(monkeypatch):
    monkeypatch.setattr("warehouse.groupcommit.GROUP_ROWS", 10)
    fake, lock = _Fake(), threading.RLock()
    group = GroupCommit(lock, lambda work: pytest.fail("no member is ready"))
    members = [fake.member(1, 4), fake.member(1, 1), fake.member(2, 4), fake.member(3, 4)]
    with lock:
        threads = [threading.Thread(target=group.merge, args=(m,)) for m in members]
        for thread in threads:
            thread.start()
        while group.waiting() < len(members):
            time.sleep(0.01)
        group._lead(("t",))
        # account 1 once, and 4 + 4 rows fit in 10: the rest wait for the next leader
        assert sorted(fake.readied) == [1, 2]
        assert group.waiting() == 2
    for thread in threads:
        thread.join(timeout=10)
    assert all(m.settled for m in members)
    assert sorted(fake.alone) == [1, 1, 2, 3]


def test_rows_a_group_cannot_take_merge_alone_with_their_own_error(tmp_path):
    def merge(account: int, drop: str | None = None) -> Callable[[Callable[[], None]], dict]:
        tables = _history(account, "ab", "1")
        if drop:
            tables = {"dividends": tables["dividends"].drop_columns([drop])}
        load = Load("dividends", account, "r1", T0)
        return lambda go: go() or wh.merge_resource(load, tables, {})

    with Warehouse.open(tmp_path / "data") as wh:
        outcomes = _at_once(wh, [merge(11), merge(12, "account_id"), merge(13)])
        assert outcomes[0] == outcomes[2] == {"dividends": MergeCounts(2, 2, 0)}
        assert str(outcomes[1]) == "dividends: input lacks declared columns ['account_id']"
        assert wh.count_rows("dividends") == 4
