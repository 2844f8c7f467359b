"""Properties of the paced limiter: never more than the limit in any period, and no slower."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from extractors.ratelimit import RateLimiter
from tests.extractors.fakes import FakeClock, rl_headers

EP = "/api/v0/equity/history/orders"
# float sums of ``period / limit`` may land a hair short of a period
SLACK = 1e-9
START = 1_000.0  # a small clock keeps float steps fine-grained

limits = st.tuples(st.integers(1, 60), st.floats(0.5, 120.0))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("acquire"), st.floats(0, 5)),
        st.tuples(st.just("observe"), st.tuples(st.floats(0, 1), st.floats(0, 1.5))),
        st.tuples(st.just("429"), st.one_of(st.none(), st.floats(0, 200))),
    ),
    min_size=1,
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(limits, st.integers(1, 60), steps)
def test_no_period_ever_holds_more_than_the_limit(limit_period, first_guess, ops):
    """Whatever the headers and 429s say, requests keep at least ``period / limit`` apart.

    The headers carry the true limit; the documented first guess is no higher than it.
    """
    limit, period = limit_period
    clock = FakeClock(START)
    rl = RateLimiter({EP: (min(first_guess, limit), period)}, clock=clock, sleep=clock.sleep)
    slots: list[float] = []
    for op, arg in ops:
        if op == "acquire":
            clock.now += arg  # time spent elsewhere before asking
            rl.acquire(EP)
            slots.append(clock.now)
        elif op == "observe":
            left, reset = arg
            headers = rl_headers(limit, round(left * limit), clock.now + reset * period, period)
            rl.observe(EP, headers, slots[-1] if slots else None)
        else:
            rl.spent(EP, arg)
    for earlier, later in zip(slots, slots[limit:], strict=False):
        assert later - earlier >= period * (1 - SLACK)
    for earlier, later in itertools.pairwise(slots):
        assert later - earlier >= period / limit * (1 - SLACK)


class FixedWindowServer:
    """A server like the real one: a window opens with its first request; 429 past the limit."""

    def __init__(self, limit: int, period: float, resolution: float):
        self.limit, self.period, self.resolution = limit, period, resolution
        self.start: float | None = None
        self.used = 0
        self.refused = 0

    def hit(self, now: float) -> tuple[bool, dict[str, str]]:
        if self.start is None or now >= self.start + self.period:
            self.start, self.used = now, 0
        allowed = self.used < self.limit
        self.used += allowed
        self.refused += not allowed
        reset = self.start + self.period
        if self.resolution:
            reset = max(reset, math.ceil(reset / self.resolution) * self.resolution)
        return allowed, rl_headers(self.limit, self.limit - self.used, reset, self.period)


@settings(max_examples=200, deadline=None)
@given(
    limits,
    st.integers(1, 400),
    st.floats(1e-6, 0.002),
    st.sampled_from([0.0, 0.001]),
)
def test_the_long_run_rate_is_the_limit_with_no_429(limit_period, n, latency, resolution):
    """Against a fixed-window server, n requests take the paced floor and at most 2 % more.

    ``latency`` (each way, never none) and the reset's ``resolution`` are fractions of the
    period.
    """
    limit, period = limit_period
    clock = FakeClock(START)
    server = FixedWindowServer(limit, period, resolution * period)
    rl = RateLimiter({EP: (limit, period)}, clock=clock, sleep=clock.sleep)
    first = None
    for _ in range(n):
        rl.acquire(EP)
        sent = clock.now
        first = sent if first is None else first
        clock.now += latency * period
        allowed, headers = server.hit(clock.now)
        clock.now += latency * period
        rl.observe(EP, headers, sent)
        if not allowed:
            rl.spent(EP)
    floor = (n - 1) * period / limit
    assert server.refused == 0
    assert sent - first <= floor * 1.02 + 1e-9 * period
