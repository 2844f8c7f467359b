"""A fake clock and a scripted mock transport for client unit tests."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from extractors.auth import Credentials
from extractors.client import ClientClock, ClientOptions, T212Client


class FakeClock:
    """Unix time that only moves when something sleeps."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def rl_headers(limit: int, remaining: int, reset: float, period: float = 60) -> dict[str, str]:
    """The five x-ratelimit-* headers."""
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-period": str(period),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-used": str(limit - remaining),
    }


def json_response(data: object, status: int = 200, headers: dict | None = None) -> httpx.Response:
    """A JSON response with the given status and headers."""
    return httpx.Response(
        status,
        content=json.dumps(data).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


class Script:
    """A transport that answers with a list of responses (or a callable) and records requests."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer):
            return answer(request)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def fake_client(
    script: Script,
    clock: FakeClock | None = None,
    *,
    credentials: tuple[str, str] = ("fake-key-0123", "fake-secret-4567"),
    **kw,
):
    """A demo-environment client answered by ``script``, waiting on a fake clock.

    ``kw``: fields of ``ClientOptions``, and ``random_source`` for the clock's draws.
    """
    from extractors.auth import Credentials
    from extractors.client import ClientClock, ClientOptions, T212Client

    clock = clock or FakeClock()
    draws = {"random": kw.pop("random_source")} if "random_source" in kw else {}
    return T212Client(
        Credentials(*credentials),
        env="demo",
        options=ClientOptions(transport=script.transport, **kw),
        clock=ClientClock(clock, clock.sleep, **draws),
    )


def client_for(script: Script) -> T212Client:
    """A client answered by ``script``, on a fake clock that never really sleeps."""
    clock = FakeClock()
    return T212Client(
        Credentials("k", "s"),
        options=ClientOptions(transport=script.transport),
        clock=ClientClock(clock, clock.sleep),
    )
