"""Deadlines: a whole answer within a total timeout; nothing sent or awaited past the run's."""

from __future__ import annotations

import time

import httpx
import pytest

from extractors.auth import Credentials
from extractors.client import ClientClock, ClientOptions, RetryPolicy, T212Client
from extractors.errors import DeadlineExceeded, RetriesExhausted, TransportError
from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.extractors.fakes import FakeClock, Script, json_response, rl_headers
from tests.sandbox.conftest import small_config

SUMMARY = "/api/v0/equity/account/summary"
DIVS = "/api/v0/equity/history/dividends"


def make_client(script: Script, clock: FakeClock, deadline: float | None, **kw) -> T212Client:
    return T212Client(
        Credentials("deadline-key", "deadline-secret"),
        env="demo",
        options=ClientOptions(transport=script.transport, deadline=deadline, **kw),
        clock=ClientClock(clock, clock.sleep, lambda: 0.0),
    )


def test_nothing_is_sent_once_the_run_deadline_has_passed():
    clock = FakeClock()
    script = Script(json_response({"id": 1}))
    with make_client(script, clock, deadline=clock.now + 10) as client:
        assert client.get(SUMMARY).data == {"id": 1}
        clock.now += 11
        with pytest.raises(DeadlineExceeded) as err:
            client.get(f"{DIVS}?cursor=17&limit=50")
    assert len(script.requests) == 1
    message = str(err.value)
    assert "\n" not in message and f"GET {DIVS} " in message and "cursor" not in message
    assert "time limit" in message and "next run reads it again" in message
    assert not err.value.retriable


@pytest.mark.parametrize(
    "answer",
    [
        json_response({}, 200, rl_headers(6, 0, FakeClock().now + 50)),  # the window's reset
        json_response({}, 429, rl_headers(6, 0, FakeClock().now + 50)),  # a 429's reset
        httpx.Response(503, headers={"retry-after": "40"}),  # Retry-After
        json_response({}, 500),  # backoff
    ],
    ids=["reset", "429", "retry-after", "backoff"],
)
def test_no_wait_sleeps_past_the_run_deadline(answer):
    clock = FakeClock()
    deadline = clock.now + 20
    script = Script(answer)
    policy = RetryPolicy(backoff_base=30.0, backoff_cap=30.0)
    client = make_client(script, clock, deadline, retry=policy)
    with client, pytest.raises(DeadlineExceeded):
        for _ in range(3):
            client.get(DIVS)
    assert clock.now <= deadline and clock.sleeps == []
    assert len(script.requests) == 1


def test_waits_that_end_before_the_deadline_still_happen():
    clock = FakeClock()
    script = Script(json_response({}, 500), json_response({"id": 2}))
    policy = RetryPolicy(backoff_base=4.0)
    client = make_client(script, clock, clock.now + 20, retry=policy, limits={SUMMARY: (9, 1.0)})
    with client:
        assert client.get(SUMMARY).data == {"id": 2}
    assert clock.sleeps == [4.0]


@pytest.fixture
def dripping():
    # the summary (255 bytes) at 20 ms a byte takes 5 s whole; every byte is quick
    with Sandbox(small_config(drip_seconds=20.0, time_scale=0.001)) as sb:
        yield sb


def test_a_dripping_answer_gives_up_within_the_total_timeout(dripping):
    dripping.inject("drip", times=2)
    policy = RetryPolicy(max_attempts=2, backoff_base=0.01)
    client = T212Client(
        Credentials(DEMO_KEY, DEMO_SECRET),
        base_url=dripping.base_url,
        options=ClientOptions(
            retry=policy,
            total_timeout=0.5,
            limits={SUMMARY: (10, 1.0)},  # the second attempt goes at once
        ),
    )
    with client:
        started = time.monotonic()
        with pytest.raises(RetriesExhausted) as err:
            client.get(SUMMARY)
        elapsed = time.monotonic() - started
        assert client.get(SUMMARY).status == 200  # the drip is over: a whole answer
    assert isinstance(err.value.last, TransportError) and err.value.last.retriable
    assert "timed out" in str(err.value) and "\n" not in str(err.value)
    assert 1.0 <= elapsed < 2.0  # two attempts of 0.5 s, not two of 5 s


def test_the_run_deadline_cuts_a_dripping_answer_short(dripping):
    dripping.inject("drip")
    client = T212Client(
        Credentials(DEMO_KEY, DEMO_SECRET),
        base_url=dripping.base_url,
        options=ClientOptions(deadline=time.time() + 0.5),
    )
    started = time.monotonic()
    with client, pytest.raises(DeadlineExceeded) as err:
        client.get(SUMMARY)
    assert time.monotonic() - started < 1.5
    assert SUMMARY in str(err.value)
