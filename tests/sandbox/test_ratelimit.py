"""Rate limits: the five headers on every answer, bursts, 429 until the window's end, scaling."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from sandbox.config import DEFAULT_RATE_LIMITS
from sandbox.ratelimit import RateLimiter
from tests.sandbox.conftest import API, small_config

DIVIDENDS = f"{API}/history/dividends"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_fixed_window_opened_by_its_first_request() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"GET /x": (6, 60.0)}, clock=clock)
    verdicts = [limiter.hit(1, "GET /x") for _ in range(7)]
    assert [v.allowed for v in verdicts] == [True] * 6 + [False]
    assert [v.headers["x-ratelimit-remaining"] for v in verdicts] == list("5432100")
    assert [v.headers["x-ratelimit-used"] for v in verdicts] == list("1234566")
    assert verdicts[0].headers["x-ratelimit-reset"] == "1700000061"  # 60.25 s later, rounded up
    assert verdicts[0].headers["x-ratelimit-period"] == "60"
    clock.now += 59.9
    assert not limiter.hit(1, "GET /x").allowed
    assert limiter.hit(2, "GET /x").allowed  # per account
    clock.now += 0.1
    fresh = limiter.hit(1, "GET /x")
    assert fresh.allowed and fresh.headers["x-ratelimit-used"] == "1"


def test_scaled_headers_are_floats_with_millisecond_precision() -> None:
    limiter = RateLimiter({"GET /x": (6, 60.0)}, time_scale=0.001, clock=FakeClock(100.0))
    headers = limiter.hit(1, "GET /x").headers
    assert headers["x-ratelimit-period"] == "0.060"
    assert headers["x-ratelimit-reset"] == "100.060"


def test_periods_under_a_millisecond_are_announced_as_they_are() -> None:
    limiter = RateLimiter({"GET /x": (6, 60.0)}, time_scale=1e-6, clock=FakeClock(100.0))
    assert float(limiter.hit(1, "GET /x").headers["x-ratelimit-period"]) == pytest.approx(6e-5)


def test_peek_does_not_consume() -> None:
    limiter = RateLimiter({"GET /x": (1, 5.0)}, clock=FakeClock())
    assert limiter.peek(1, "GET /x")["x-ratelimit-remaining"] == "1"
    assert limiter.hit(1, "GET /x").allowed


def test_documented_limits_are_the_default() -> None:
    assert DEFAULT_RATE_LIMITS[f"GET {API}/account/summary"] == (1, 5.0)
    assert DEFAULT_RATE_LIMITS[f"GET {API}/metadata/instruments"] == (1, 50.0)
    assert DEFAULT_RATE_LIMITS[f"POST {API}/history/exports"] == (1, 30.0)
    assert DEFAULT_RATE_LIMITS[f"GET {API}/history/transactions"] == (6, 60.0)


@pytest.mark.parametrize(
    "path",
    [
        "/account/summary",
        "/positions",
        "/metadata/instruments",
        "/metadata/exchanges",
        "/history/dividends",
        "/history/orders",
        "/history/transactions",
        "/history/exports",
    ],
)
def test_every_endpoint_sends_the_five_headers_with_real_numbers(path: str) -> None:
    with (
        Sandbox(small_config(time_scale=1.0, rate_limits=None)) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client,
    ):
        before = time.time()
        response = client.get(API + path)
        limit, seconds = DEFAULT_RATE_LIMITS[f"GET {API}{path}"]
        assert response.status_code == 200
        h = response.headers
        assert h["x-ratelimit-limit"] == str(limit)
        assert h["x-ratelimit-period"] == str(int(seconds))
        assert h["x-ratelimit-used"] == "1"
        assert h["x-ratelimit-remaining"] == str(limit - 1)
        assert h["x-ratelimit-reset"].isdigit()
        assert before + seconds <= int(h["x-ratelimit-reset"]) <= time.time() + seconds + 1
        if limit == 1:
            limited = client.get(API + path)
            assert limited.status_code == 429
            assert limited.headers["x-ratelimit-remaining"] == "0"
            assert limited.headers["x-ratelimit-reset"] == h["x-ratelimit-reset"]


def test_burst_then_429_until_reset_with_small_time_scale() -> None:
    # a window of 3 s (60 s scaled): a busy machine still sends the seven requests within it
    with (
        Sandbox(small_config(time_scale=0.05, rate_limits=None)) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client,
    ):
        burst = [client.get(DIVIDENDS) for _ in range(6)]
        assert [r.status_code for r in burst] == [200] * 6
        limited = client.get(DIVIDENDS)
        assert limited.status_code == 429
        assert limited.headers["x-ratelimit-period"] == "3.000"
        assert limited.headers["x-ratelimit-used"] == "6"
        reset = float(limited.headers["x-ratelimit-reset"])
        assert reset == float(burst[0].headers["x-ratelimit-reset"])
        time.sleep(max(0.0, reset - time.time()) + 0.005)
        again = client.get(DIVIDENDS)
        assert again.status_code == 200
        assert again.headers["x-ratelimit-used"] == "1"
        # other endpoints and the other account keep their own windows
        assert client.get(f"{API}/history/orders").status_code == 200
        assert sb.request_counts()[DIVIDENDS] == 8


def test_burst_mode_refuses_more_than_n_requests_within_a_second() -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter({"GET /x": (50, 60.0)}, clock=clock, burst=2)
    assert [limiter.hit(1, "GET /x").allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit(2, "GET /x").allowed  # per account
    assert limiter.hit(1, "GET /y").allowed  # per endpoint
    clock.now += 0.5
    assert not limiter.hit(1, "GET /x").allowed
    clock.now += 0.5  # the first two are a second old now
    verdicts = [limiter.hit(1, "GET /x") for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    # refused requests do not count against the window
    assert verdicts[-1].headers["x-ratelimit-used"] == "4"


def test_burst_mode_second_is_time_scaled_and_evenly_spaced_requests_pass() -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter({"GET /x": (6, 60.0)}, time_scale=0.01, clock=clock, burst=1)
    allowed = []
    for _ in range(12):
        allowed.append(limiter.hit(1, "GET /x").allowed)
        clock.now += 0.11  # 11 s scaled: under 6 a minute, one at a time
    assert allowed == [True] * 12


def test_burst_limit_from_the_command_line() -> None:
    import argparse

    from sandbox.cli import add_arguments, config_from

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from(parser.parse_args(["--burst-limit", "3"])).burst_limit == 3
    assert config_from(parser.parse_args([])).burst_limit is None
    with pytest.raises(ValueError, match="burst_limit"):
        small_config(burst_limit=0)
