"""A whole backfill through a sandbox that refuses bursts: paced requests earn no 429."""

from __future__ import annotations

import pytest

from sandbox import DEMO_ACCOUNT_ID, Sandbox
from tests.flows.harness import export, sandbox_config, settings_for
from tests.flows.test_export_sandbox import assert_matches_truth

API = "/api/v0/equity"
HISTORY = ("dividends", "orders", "transactions")


@pytest.mark.slow  # a whole backfill at the rate limit
def test_backfill_through_a_burst_refusing_sandbox_earns_no_429(tmp_path):
    # a scaled second of 50 ms, history windows of 3 s: 6 requests a window, at most two
    # to one endpoint within the scaled second
    config = sandbox_config(time_scale=0.05, burst_limit=2)
    with Sandbox(config) as sb:
        summary = export(settings_for(sb, tmp_path))
        truth = sb.truth(DEMO_ACCOUNT_ID)
        counts = sb.request_counts(DEMO_ACCOUNT_ID)
    assert summary.exit_code == 0, summary.errors()
    limited = {r.resource: r.stats.rate_limited for a in summary.accounts for r in a.resources}
    assert limited == dict.fromkeys(limited, 0)
    # every history page was asked for once: no request was refused and sent again
    pages = {name: counts[f"{API}/history/{name}"] for name in HISTORY}
    assert pages == {name: -(-truth[name]["count"] // 50) for name in HISTORY}
    assert_matches_truth(tmp_path, truth, DEMO_ACCOUNT_ID)
