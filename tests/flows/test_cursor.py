"""The incremental cursor through the sandbox: a clock that lies cannot make a run miss items.

A history item dated in the future (a bad timestamp, a skewed clock) used to become the
stored watermark, and every later run stopped after its first page; one old item on a page
of new ones (a long-standing limit order filled today) stopped the walk there too.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, Sandbox, SandboxSize
from tests.flows.harness import export, sandbox_config, settings_for
from tests.flows.test_export_sandbox import assert_matches_truth
from warehouse import Warehouse

API = "/api/v0/equity"
# about 400 items a year: 60 days add more than one page of 50
DENSE = SandboxSize(instruments=100, positions=5, dividends=2000, orders=2000, transactions=2000)
HISTORY = ("dividends", "orders", "transactions")


def _sandbox() -> Sandbox:
    account = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, size=DENSE)
    return Sandbox(sandbox_config(accounts=(account,), time_scale=1e-6))


def _watermark(data_dir, resource: str) -> datetime:
    with Warehouse.open(data_dir, views=False) as wh:
        state = wh.get_state(DEMO_ACCOUNT_ID, resource)
    return datetime.fromisoformat(state["cursor"]["watermark"])


def _added(before: dict, after: dict, resource: str) -> int:
    return after[resource]["count"] - before[resource]["count"]


@pytest.mark.slow  # several whole exports
def test_an_item_dated_2099_does_not_stop_later_runs(tmp_path):
    with _sandbox() as sb:
        settings = settings_for(sb, tmp_path)
        assert export(settings).exit_code == 0
        for resource in HISTORY:
            sb.inject("future_time", path=f"{API}/history/{resource}")
        poisoned = export(settings)
        assert poisoned.exit_code == 0
        for resource in HISTORY:
            # the watermark is never later than the run that stored it
            assert _watermark(tmp_path, resource) <= datetime.now(UTC), resource
        before = sb.truth(DEMO_ACCOUNT_ID)
        sb.advance(days=60)
        after = sb.truth(DEMO_ACCOUNT_ID)
        assert all(_added(before, after, r) > 50 for r in HISTORY)  # more than a page each
        assert export(settings).exit_code == 0
        assert_matches_truth(tmp_path, after, DEMO_ACCOUNT_ID, reference=False)


@pytest.mark.slow  # several whole exports
def test_one_old_item_on_a_page_of_new_ones_does_not_stop_the_walk(tmp_path):
    with _sandbox() as sb:
        settings = settings_for(sb, tmp_path)
        assert export(settings).exit_code == 0
        before = sb.truth(DEMO_ACCOUNT_ID)
        sb.advance(days=60)
        after = sb.truth(DEMO_ACCOUNT_ID)
        assert all(_added(before, after, r) > 50 for r in HISTORY)
        # the first page of each history leads with an item created in 2001
        for resource in HISTORY:
            sb.inject("stale_time", path=f"{API}/history/{resource}")
        assert export(settings).exit_code == 0
        assert_matches_truth(tmp_path, after, DEMO_ACCOUNT_ID, reference=False)


def test_a_watermark_poisoned_by_an_earlier_version_is_capped_at_the_run_start():
    from flows.pipeline.context import RunContext
    from flows.pipeline.cursors import advance_cursor, stored_watermark

    started = datetime(2026, 1, 5, tzinfo=UTC)
    poisoned = {"cursor": {"watermark": "2099-01-01T00:00:00+00:00"}}
    ctx = RunContext(run_id="r", started_at=started)
    assert stored_watermark(poisoned, ctx) == started
    assert advance_cursor(None, poisoned, not_after=started) == {"watermark": started.isoformat()}
    assert stored_watermark(poisoned, RunContext("r", started, full_refresh=True)) is None
