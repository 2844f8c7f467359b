"""Scale: a million dividends and orders, 16,000 instruments, in milliseconds and little memory.

The orders are the exception: their first newest page waits for the account's ledger to walk
the million once.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc

import httpx
import pytest

from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, Sandbox, SandboxConfig
from sandbox.config import SandboxSize
from tests.sandbox.conftest import API, FAST_LIMITS

MILLION = 1_000_000
# Measured: about 2.3 MB peak for 100 pages plus random access (the client's parsing and
# the test's set of references included). Holding the history would take hundreds of MB.
PEAK_BOUND = 8_000_000


def _config() -> SandboxConfig:
    size = SandboxSize(instruments=16_000, dividends=MILLION, orders=MILLION, years=8)
    account = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, "invest", size=size)
    return SandboxConfig(accounts=(account,), time_scale=0.0001, rate_limits=FAST_LIMITS)


@pytest.mark.slow  # a walk over a million items
def test_a_million_items_are_created_instantly_and_paged_in_milliseconds() -> None:
    # CPU time of this process (the sandbox serves from a thread of it), not the wall clock
    # that a busy machine stretches: making or walking the million would take seconds of it
    started = time.process_time()
    sb = Sandbox(_config())
    assert time.process_time() - started < 0.2
    series = sb.books[DEMO_ACCOUNT_ID].dividends
    assert series.count == MILLION
    with sb, httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client:
        latencies = []
        for index in (MILLION - 1, MILLION // 2, 1234, 49):
            cursor = series.time_ms(index)
            begun = time.process_time()
            body = client.get(f"{API}/history/dividends?limit=50&cursor={cursor}").json()
            latencies.append(time.process_time() - begun)
            assert body["items"][0]["reference"] == series.item(index)["reference"]
            assert len(body["items"]) == min(50, index + 1)
            assert (body["nextPagePath"] is None) == (index < 50)
        # the newest orders wait for the ledger's one walk over the million (seconds, see
        # sandbox/ledger.py); the walk is kept, so the next look is as quick as any page
        orders = client.get(f"{API}/history/orders?limit=50", timeout=600).json()
        assert orders["items"][0]["order"]["id"] > 30_000_000_000 + 7 * (MILLION - 2)
        begun = time.process_time()
        assert client.get(f"{API}/history/orders?limit=50").json() == orders
        assert time.process_time() - begun < 1.0
        assert statistics.median(latencies) < 0.05


@pytest.mark.slow  # a million items
def test_walking_a_million_dividends_stays_within_a_memory_bound() -> None:
    with (
        Sandbox(_config()) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client,
    ):
        client.get(f"{API}/history/dividends?limit=1")  # warm up connection and caches
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            references: set[str] = set()
            path = f"{API}/history/dividends?limit=50"
            for _ in range(100):
                body = client.get(path).json()
                references.update(item["reference"] for item in body["items"])
                path = body["nextPagePath"]
            series = sb.books[DEMO_ACCOUNT_ID].dividends
            for index in (MILLION // 3, MILLION // 2, 10):
                client.get(f"{API}/history/dividends?limit=50&cursor={series.time_ms(index)}")
            peak = tracemalloc.get_traced_memory()[1] - baseline
        finally:
            tracemalloc.stop()
    assert len(references) == 5000
    assert peak < PEAK_BOUND, f"peak {peak / 1e6:.1f} MB"


def test_full_instrument_list_of_16000() -> None:
    with Sandbox(_config()) as sb:
        response = httpx.get(
            sb.base_url + f"{API}/metadata/instruments", auth=(DEMO_KEY, DEMO_SECRET), timeout=10
        )
    instruments = response.json()
    assert len(instruments) == 16_000 == len({i["ticker"] for i in instruments})
    assert 3_000_000 < len(response.content) < 6_000_000
