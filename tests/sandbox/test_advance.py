"""Advancing the clock adds new activity, newest first, and the truth follows."""

from __future__ import annotations

import httpx

from sandbox import Sandbox
from tests.sandbox.conftest import API, decoded, key_of, walk

ACCOUNT = 21200101


def _keys(client: httpx.Client, resource: str) -> list[str]:
    return [key_of(i) for page in walk(client, f"{API}/history/{resource}?limit=50") for i in page]


def test_advance_adds_exactly_the_new_items_newest_first(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    before = {r: _keys(client, r) for r in ("dividends", "orders", "transactions")}
    truth_before = sandbox.truth(ACCOUNT)
    summary_before = client.get(f"{API}/account/summary").content
    positions_before = sandbox.truth(ACCOUNT)["positions"]
    sandbox.advance(days=30)
    truth_after = sandbox.truth(ACCOUNT)
    for resource, old in before.items():
        new = _keys(client, resource)
        added = truth_after[resource]["count"] - truth_before[resource]["count"]
        assert added >= 1
        assert new[added:] == old  # the old history is unchanged, after the new items
        assert len(set(new)) == len(new) == len(old) + added
    assert truth_after["positions"] != positions_before
    assert client.get(f"{API}/account/summary").content != summary_before


def test_incremental_walk_stops_at_the_old_cursor(sandbox: Sandbox, client: httpx.Client) -> None:
    newest = decoded(client.get(f"{API}/history/dividends?limit=1"))["items"][0]
    sandbox.advance(days=10)
    fresh = []
    for page in walk(client, f"{API}/history/dividends?limit=2"):
        for item in page:
            if item["reference"] == newest["reference"]:
                break
            fresh.append(item)
        else:
            continue
        break
    assert len(fresh) >= 1
    assert sandbox.truth(ACCOUNT)["dividends"]["count"] == 137 + len(fresh)


def test_control_endpoints_advance_and_report_truth(sandbox: Sandbox) -> None:
    base = sandbox.base_url
    before = decoded(httpx.get(f"{base}/_sandbox/truth?account_id={ACCOUNT}"))
    moved = httpx.post(f"{base}/_sandbox/advance?days=2")
    assert moved.status_code == 200 and moved.json()["now"].startswith("2025-07-02")
    after = decoded(httpx.get(f"{base}/_sandbox/truth?account_id={ACCOUNT}"))
    assert after["transactions"]["count"] > before["transactions"]["count"]
    assert after["dividends"]["amount"] == sandbox.truth(ACCOUNT)["dividends"]["amount"]
    assert httpx.get(f"{base}/_sandbox/truth").status_code == 400


def test_request_counts_per_path_and_reset(sandbox: Sandbox, client: httpx.Client) -> None:
    client.get(f"{API}/positions")
    client.get(f"{API}/positions")
    httpx.get(sandbox.base_url + f"{API}/positions")  # unauthenticated, still answered
    assert sandbox.request_counts(ACCOUNT) == {f"{API}/positions": 2}
    assert sandbox.request_counts() == {f"{API}/positions": 3}
    assert httpx.get(f"{sandbox.base_url}/_sandbox/requests").json() == {f"{API}/positions": 3}
    sandbox.reset_counts()
    assert sandbox.request_counts() == {}
