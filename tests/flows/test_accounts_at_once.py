"""Accounts exported at once: up to ``parallel_accounts``, with threads or Prefect tasks."""

from __future__ import annotations

import threading

import pytest
from prefect import flow

from flows.pipeline.account import AccountResult
from flows.pipeline.flow import run_in_tasks
from flows.pipeline.run import run_threads


class Gauge:
    """Counts the jobs running at the same time, and the most ever seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    def job(self, name: str, barrier: threading.Barrier):
        """A job that holds its place until ``barrier`` is full."""

        def run() -> AccountResult:
            with self._lock:
                self.running += 1
                self.most = max(self.most, self.running)
            try:
                barrier.wait()
            finally:
                with self._lock:
                    self.running -= 1
            return AccountResult(name)

        return name, run


def test_more_than_eight_accounts_run_at_once_when_allowed():
    gauge, barrier = Gauge(), threading.Barrier(12, timeout=10)
    jobs = [gauge.job(f"a{i}", barrier) for i in range(12)]
    results = run_threads(jobs, 12)
    assert [r.name for r in results] == [f"a{i}" for i in range(12)]
    assert gauge.most == 12


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_never_more_accounts_at_once_than_the_cap(limit):
    # jobs go through in groups of ``limit``: one more at once would show in the gauge
    gauge, barrier = Gauge(), threading.Barrier(limit, timeout=10)
    results = run_threads([gauge.job(f"a{i}", barrier) for i in range(2 * limit)], limit)
    assert len(results) == 2 * limit
    assert gauge.most == limit


# one worker runs every test that uses the shared Prefect server, so it starts once
@pytest.mark.xdist_group("prefect")
def test_flow_runs_as_many_account_tasks_at_once_as_allowed(prefect_harness):
    gauge, barrier = Gauge(), threading.Barrier(12, timeout=20)
    jobs = [gauge.job(f"a{i}", barrier) for i in range(12)]

    @flow
    def accounts(limit: int) -> list[str]:
        return [r.name for r in run_in_tasks(jobs, limit)]

    assert accounts(12) == [f"a{i}" for i in range(12)]
    assert gauge.most == 12
    capped, pairs = Gauge(), threading.Barrier(2, timeout=20)
    jobs[:] = [capped.job(f"b{i}", pairs) for i in range(6)]
    assert len(accounts(2)) == 6
    assert capped.most == 2
