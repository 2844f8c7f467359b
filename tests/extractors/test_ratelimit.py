"""The limiter against a fake clock: even spacing, waiting until reset, header corrections."""

from __future__ import annotations

import pytest

from extractors.auth import Credentials
from extractors.client import ClientClock, ClientOptions, T212Client
from extractors.ratelimit import DOCUMENTED_LIMITS, RateLimiter, parse_retry_after
from tests.extractors.fakes import FakeClock, Script, json_response, rl_headers

DIVS = "/api/v0/equity/history/dividends"


def limiter(clock: FakeClock, limits=None) -> RateLimiter:
    return RateLimiter(limits, clock=clock, sleep=clock.sleep)


def test_documented_limits_are_seeded():
    assert DOCUMENTED_LIMITS[DIVS] == (6, 60.0)
    clock = FakeClock()
    w = limiter(clock).window("/api/v0/equity/metadata/instruments")
    assert (w.limit, w.period) == (1, 50.0)


def test_method_specific_limits_are_found_for_get_and_post():
    rl = limiter(FakeClock())
    exports = "/api/v0/equity/history/exports"
    assert (rl.window(exports).limit, rl.window(exports).period) == (1, 60.0)
    assert rl.window(f"POST {exports}").period == 30.0


def test_requests_are_spaced_evenly_from_the_first():
    clock = FakeClock()
    rl = limiter(clock)
    waits = [rl.acquire(DIVS) for _ in range(7)]
    assert waits == [0.0] + [pytest.approx(10.0)] * 6  # 6 per 60 s: one every 10 s
    assert clock.sleeps == [pytest.approx(10.0)] * 6


def test_time_spent_elsewhere_counts_towards_the_spacing():
    clock = FakeClock()
    rl = limiter(clock)
    rl.acquire(DIVS)
    clock.now += 4.0  # the page took 4 s to read and load
    assert rl.acquire(DIVS) == pytest.approx(6.0)
    clock.now += 30.0
    assert rl.acquire(DIVS) == 0.0  # no credit is saved up: the next one waits again
    assert rl.acquire(DIVS) == pytest.approx(10.0)


def test_a_lower_remaining_spreads_the_rest_evenly_until_the_reset():
    clock = FakeClock()
    rl = limiter(clock)
    sent = clock.now
    rl.acquire(DIVS)
    # 2 left for the 40 s to the reset: the next two 40 / 3 s apart, not 10
    rl.observe(DIVS, rl_headers(limit=6, remaining=2, reset=sent + 40), sent)
    assert rl.acquire(DIVS) == pytest.approx(40 / 3)


def test_headers_correct_remaining_and_reset():
    clock = FakeClock()
    rl = limiter(clock)
    rl.acquire(DIVS)
    rl.observe(DIVS, rl_headers(limit=6, remaining=0, reset=clock.now + 12.5))
    assert rl.acquire(DIVS) == pytest.approx(12.5)


def test_headers_correct_the_documented_limit_upwards():
    clock = FakeClock()
    rl = limiter(clock)
    assert rl.announced() == {}
    rl.acquire(DIVS)
    rl.observe(DIVS, rl_headers(limit=50, remaining=49, reset=clock.now + 60))
    assert [rl.acquire(DIVS) for _ in range(3)] == [pytest.approx(1.2)] * 3
    assert rl.window(DIVS).limit == 50
    assert rl.announced() == {f"GET {DIVS}": ((50, 60.0), (6, 60.0))}


def test_no_wait_once_reset_has_passed():
    clock = FakeClock()
    rl = limiter(clock)
    rl.acquire(DIVS)
    rl.observe(DIVS, rl_headers(6, 0, clock.now + 5))
    clock.now += 11
    assert rl.acquire(DIVS) == 0.0


def test_spent_after_429_uses_retry_after_or_the_reset_or_period():
    clock = FakeClock()
    rl = limiter(clock, {"/x": (3, 10.0)})
    rl.spent("/x", retry_after=2.0)
    assert rl.acquire("/x") == pytest.approx(2.0)
    rl.spent("/x")
    assert rl.acquire("/x") == pytest.approx(10.0)
    rl.observe("/x", rl_headers(3, 1, clock.now + 7, period=10))
    rl.spent("/x")
    assert rl.acquire("/x") == pytest.approx(7.0)


def test_retry_after_wins_over_the_headers():
    clock = FakeClock()
    rl = limiter(clock, {"/x": (3, 10.0)})
    rl.acquire("/x")
    rl.observe("/x", rl_headers(3, 0, clock.now + 9, period=10))
    rl.spent("/x", retry_after=1.5)
    assert rl.acquire("/x") == pytest.approx(3.3333333)  # the pace (10 / 3 s) still holds
    rl.spent("/x", retry_after=5.0)
    assert rl.acquire("/x") == pytest.approx(5.0)


def test_garbage_headers_are_ignored():
    clock = FakeClock()
    rl = limiter(clock)
    rl.observe(DIVS, {"x-ratelimit-remaining": "soon", "x-ratelimit-reset": ""})
    assert rl.acquire(DIVS) == 0.0 and rl.announced() == {}


def test_client_sends_no_request_while_window_known_spent():
    """In normal operation the client never earns a 429: it waits for the reset."""
    clock = FakeClock()
    state = {"used": 0, "reset": clock.now + 60}

    def server(request):
        if clock.now >= state["reset"]:
            state["used"], state["reset"] = 0, clock.now + 60
        state["used"] += 1
        remaining = 6 - state["used"]
        status = 429 if remaining < 0 else 200
        return json_response(
            {"items": []}, status, rl_headers(6, max(0, remaining), state["reset"])
        )

    script = Script(server)
    waits: list[float] = []
    client = T212Client(
        Credentials("k", "s"),
        options=ClientOptions(
            transport=script.transport, on_wait=lambda endpoint, seconds: waits.append(seconds)
        ),
        clock=ClientClock(clock, clock.sleep),
    )
    for _ in range(20):
        client.get(DIVS)
    stats = client.stats[DIVS]
    assert stats.rate_limited == 0 and stats.requests == 20
    assert len(clock.sleeps) == 19  # one wait before each request but the first
    assert stats.wait_seconds == pytest.approx(190.0)  # 19 x 10 s, evenly spaced
    assert waits == clock.sleeps


def test_a_reset_far_in_the_future_waits_one_documented_period_at_most():
    clock = FakeClock()
    rl = limiter(clock)
    rl.acquire(DIVS)
    rl.observe(DIVS, rl_headers(6, 0, clock.now + 36_000))  # ten hours
    assert rl.acquire(DIVS) == pytest.approx(60.0)
    rl.observe(DIVS, rl_headers(6, 0, (clock.now + 30) * 1000))  # milliseconds by mistake
    assert rl.acquire(DIVS) == pytest.approx(60.0)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999", "-3", "", "0x10", "NaN"])
def test_non_finite_negative_or_odd_header_values_are_ignored(value):
    clock = FakeClock()
    rl = limiter(clock)
    names = ("limit", "period", "remaining", "reset", "used")
    rl.observe(DIVS, {f"x-ratelimit-{n}": value for n in names})
    w = rl.window(DIVS)
    assert (w.limit, w.period, w.hold_until) == (6, 60.0, None)
    assert rl.acquire(DIVS) == 0.0
    assert rl.bound(DIVS) == 60.0


def test_remaining_above_the_limit_keeps_the_pace():
    clock = FakeClock()
    rl = limiter(clock, {"/x": (2, 10.0)})
    rl.acquire("/x")
    rl.observe("/x", rl_headers(2, 10**300, clock.now + 10, period=10))
    assert rl.acquire("/x") == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        ("0.25", 0.25),
        ("Fri, 15 Jan 2027 08:00:10 GMT", 10.0),
        ("inf", None),
        ("nan", None),
        ("-1", None),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value, expected):
    now = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
    assert parse_retry_after(value, now) == expected


def test_spent_with_an_endless_retry_after_waits_one_period_at_most():
    clock = FakeClock()
    rl = limiter(clock, {"/x": (3, 10.0)})
    rl.spent("/x", retry_after=1e12)
    assert rl.acquire("/x") == pytest.approx(10.0)
