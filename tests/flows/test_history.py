"""History in chunks and at once: the three endpoints overlap in time, totals stay exact."""

from __future__ import annotations

import threading
import time

import pytest

from extractors.resources import RUN_ORDER
from flows.pipeline import history
from flows.pipeline.rebuild import rebuild
from flows.pipeline.resource import export_resource
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, Sandbox, SandboxSize
from tests.flows.harness import (
    assert_parquet_equals_duckdb,
    db_contents,
    export,
    sandbox_config,
    settings_for,
    tables_contents,
)
from tests.flows.test_export_sandbox import assert_matches_truth
from transforms.catalogue import TABLES

HISTORY = ("dividends", "orders", "transactions")
# 8 pages per history endpoint, evenly spaced: each one waits between its pages
SIZE = SandboxSize(instruments=100, positions=5, dividends=400, orders=400, transactions=400)


def _config(time_scale: float):
    account = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, size=SIZE)
    return sandbox_config(accounts=(account,), time_scale=time_scale)


@pytest.mark.slow  # a whole backfill at the rate limit
def test_history_endpoints_are_fetched_at_once_within_their_limits(tmp_path):
    spans: dict[str, tuple[float, float]] = {}
    threads: dict[str, int] = {}

    def timed(job, **first):
        start = time.monotonic()
        try:
            return export_resource(job, **first)
        finally:
            spans[job.resource.name] = (start, time.monotonic())
            threads[job.resource.name] = threading.get_ident()

    with Sandbox(_config(time_scale=0.02)) as sb:
        summary = export(settings_for(sb, tmp_path), resource_runner=timed)
        truth = sb.truth(DEMO_ACCOUNT_ID)
    assert summary.exit_code == 0
    (account,) = summary.accounts
    # reported in run order, the snapshots first, whichever thread finished first
    names = [r.resource for r in account.resources]
    assert names == [n for n in RUN_ORDER if n in names]
    assert names[0] == "account_summary" and names.index(HISTORY[0]) < names.index(HISTORY[1])
    assert sum(r.stats.rate_limited for r in account.resources) == 0
    assert all(r.stats.wait_seconds > 0 for r in account.resources if r.resource in HISTORY)
    # every pair of history resources overlaps in time, each on a thread of its own
    for a in HISTORY:
        for b in HISTORY:
            assert spans[a][0] < spans[b][1], (a, b)
    assert len({threads[n] for n in HISTORY}) == 3
    assert_matches_truth(tmp_path, truth, DEMO_ACCOUNT_ID)


@pytest.mark.slow  # exports and rebuilds
def test_one_page_chunks_and_a_chunked_rebuild_give_the_same_tables(tmp_path, monkeypatch):
    with Sandbox(_config(time_scale=0.0005)) as sb:
        settings = settings_for(sb, tmp_path)
        first = export(settings, ctx_options={"chunk_pages": 1})
        sb.advance(days=3)
        again = export(settings, ctx_options={"chunk_pages": 1}, full_refresh=True)
        truth = sb.truth(DEMO_ACCOUNT_ID)
    assert first.exit_code == again.exit_code == 0
    assert_matches_truth(tmp_path, truth, DEMO_ACCOUNT_ID)
    counts = {r.resource: r.counts for r in again.accounts[0].resources}
    # a full refresh re-reads everything: only the new days' items are inserted
    assert 0 < counts["dividends"]["dividends"].inserted < 10
    assert counts["dividends"]["dividends"].read == truth["dividends"]["count"]
    before = tables_contents(tmp_path)
    monkeypatch.setattr(history, "REBUILD_CHUNK_PAGES", 1)
    rebuild(tmp_path)
    for name in TABLES:
        assert db_contents(tmp_path, name) == before[name], name
    assert_parquet_equals_duckdb(tmp_path)
