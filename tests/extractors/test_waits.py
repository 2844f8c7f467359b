"""Whatever the rate-limit and Retry-After headers say, waits stay bounded and errors are ours."""

from __future__ import annotations

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from extractors.client import RetryPolicy
from extractors.errors import DeadlineExceeded, T212Error
from tests.extractors.fakes import FakeClock, Script, fake_client

DIVS = "/api/v0/equity/history/dividends"
NAMES = ("limit", "period", "remaining", "reset", "used")
START = FakeClock().now

ODD = [
    "inf", "-inf", "nan", "NaN", "1e999", "-1", "0", "", " 7 ", "1e308", "9" * 40,
    "Fri, 15 Jan 2027 08:00:10 GMT", "Thu, 01 Jan 1970 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(ODD),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(min_value=-1e6, max_value=1e7).map(lambda d: repr(START + d)),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
)
HEADERS = st.fixed_dictionaries(
    {}, optional={**{f"x-ratelimit-{n}": VALUES for n in NAMES}, "retry-after": VALUES}
)
ANSWERS = st.lists(
    st.tuples(st.sampled_from([200, 200, 429, 503, 500]), HEADERS), min_size=1, max_size=10
)
BOUND = 60.0  # the documented period of the history endpoints; the backoff cap is 30 s


def answers_of(answers: list[tuple[int, dict[str, str]]]) -> Script:
    body = b'{"items": [], "nextPagePath": null}'
    return Script(
        *[
            httpx.Response(status, content=body, headers={"content-type": "application/json", **h})
            for status, h in answers
        ]
    )


@settings(max_examples=300, deadline=None)
@given(answers=ANSWERS)
def test_no_header_makes_the_client_wait_past_the_bound_or_raise_a_foreign_error(answers):
    clock = FakeClock()
    script = answers_of(answers)
    client = fake_client(script, clock, retry=RetryPolicy(max_attempts=4))
    with client:
        for _ in range(3):
            try:
                client.get(DIVS)
            except T212Error as exc:
                assert "\n" not in str(exc)
    assert all(0 <= s <= BOUND for s in clock.sleeps), clock.sleeps


@settings(max_examples=200, deadline=None)
@given(answers=ANSWERS, limit=st.floats(min_value=0, max_value=400))
def test_no_header_makes_the_client_wait_past_the_run_deadline(answers, limit):
    clock = FakeClock()
    deadline = clock.now + limit
    script = answers_of(answers)
    client = fake_client(script, clock, deadline=deadline)
    with client:
        for _ in range(3):
            try:
                client.get(DIVS)
            except DeadlineExceeded:
                break
            except T212Error as exc:
                assert "\n" not in str(exc)
    assert clock.now <= deadline
    assert all(0 <= s <= BOUND for s in clock.sleeps)
