"""Same seed and options, same bytes; another seed, other data; the timeline is monotone."""

from __future__ import annotations

import itertools

import httpx

from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox, SandboxConfig
from sandbox.timeline import Timeline
from tests.sandbox.conftest import API, FAST_LIMITS

PATHS = (
    "/account/summary",
    "/positions",
    "/metadata/instruments",
    "/metadata/exchanges",
    "/history/dividends?limit=50",
    "/history/orders?limit=50",
    "/history/transactions?limit=50",
    "/history/dividends?limit=50&cursor=1600000000000",
    "/history/orders?limit=7&cursor=1700000000000",
)


def _bodies(seed: int) -> list[bytes]:
    config = SandboxConfig(seed=seed, time_scale=0.0001, rate_limits=FAST_LIMITS)
    with (
        Sandbox(config) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client,
    ):
        bodies = []
        for path in PATHS:
            response = client.get(API + path)
            assert response.status_code == 200, path
            bodies.append(response.content)
        return bodies


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first, second, other = _bodies(212), _bodies(212), _bodies(7)
    assert first == second
    differ = {path for path, a, b in zip(PATHS, first, other, strict=True) if a != b}
    assert differ == set(PATHS) - {"/metadata/exchanges"}  # exchanges follow the clock only


def test_timeline_is_strictly_increasing_and_inverts_exactly() -> None:
    timeline = Timeline.spread(10_000, 1_500_000_000_000, 1_600_000_000_000, 3, 212)
    timeline = timeline.extended(17, 1_600_086_400_000, 213).extended(0, 1_600_172_800_000, 214)
    times = [timeline.time_ms(i) for i in range(timeline.count)]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert times[-1] < 1_600_086_400_000
    for i in (0, 1, 2, 4_999, 9_999, 10_000, 10_016):
        assert timeline.index_at_or_before(times[i]) == i
        assert timeline.index_at_or_before(times[i] - 1) == i - 1
    assert timeline.index_at_or_before(10**15) == timeline.count - 1
    shared = sum(a // 1000 == b // 1000 for a, b in itertools.pairwise(times))
    assert shared > timeline.count // 2  # most items share their second with a neighbour


def test_dense_timeline_without_whole_seconds() -> None:
    timeline = Timeline.spread(1000, 0, 5000, 3, 1)
    times = [timeline.time_ms(i) for i in range(1000)]
    assert times == sorted(set(times))
    assert timeline.index_at_or_before(times[500]) == 500
