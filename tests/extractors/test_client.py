"""Client rules: auth, HTTPS, errors, retries, exact money, counters, redaction."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from decimal import Decimal

import httpx
import pytest

from extractors.answers import PREEMPTIBLE_BODY
from extractors.auth import Credentials
from extractors.client import (
    USER_AGENT,
    ClientOptions,
    RetryPolicy,
    T212Client,
    decode_json,
    tls_context,
)
from extractors.errors import (
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RetriesExhausted,
    ServerError,
    TransportError,
)
from tests.extractors.fakes import FakeClock, Script, fake_client, json_response, rl_headers

KEY, SECRET = "sentinel-key-4f1d", "sentinel-secret-9a7c"
SUMMARY = "/api/v0/equity/account/summary"
LENIENT = {SUMMARY: (100, 1.0)}


def make_client(script: Script, clock: FakeClock | None = None, **kw) -> T212Client:
    kw.setdefault("random_source", lambda: 0.0)  # no jitter: backoffs are exact
    return fake_client(script, clock, credentials=(KEY, SECRET), **kw)


def test_basic_auth_user_agent_and_base_url():
    script = Script(json_response({"id": 1}))
    with make_client(script) as client:
        client.get(SUMMARY)
    request = script.requests[0]
    assert str(request.url) == "https://demo.trading212.com/api/v0/equity/account/summary"
    expected = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("t212-etl/")


@pytest.mark.parametrize(
    ("env", "base_url", "expected"),
    [
        ("live", None, "https://live.trading212.com"),
        ("demo", None, "https://demo.trading212.com"),
        ("live", "http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("live", "http://localhost:9", "http://localhost:9"),
        ("live", "http://[::1]:9", "http://[::1]:9"),
        ("live", "https://proxy.example.org/", "https://proxy.example.org"),
    ],
)
def test_base_url_rules(env, base_url, expected):
    client = T212Client(Credentials(KEY, SECRET), env=env, base_url=base_url)
    assert client.base_url == expected


@pytest.mark.parametrize(
    "base_url", ["http://example.org", "http://10.0.0.5:8080", "ftp://example.org", "https://"]
)
def test_clear_text_or_bad_url_refused_before_any_request(base_url):
    script = Script(json_response({}))
    with pytest.raises(ConfigurationError) as err:
        T212Client(
            Credentials(KEY, SECRET),
            base_url=base_url,
            options=ClientOptions(transport=script.transport),
        )
    assert script.requests == []
    assert KEY not in str(err.value)


def test_unknown_environment_and_empty_credentials():
    with pytest.raises(ConfigurationError, match="'live' or 'demo'"):
        T212Client(Credentials(KEY, SECRET), env="paper")
    with pytest.raises(ConfigurationError, match="T212_API_KEY"):
        Credentials("", SECRET)


def test_redirects_are_not_followed_with_credentials():
    script = Script(httpx.Response(302, headers={"location": "https://evil.example/x"}))
    with make_client(script) as client, pytest.raises(BadRequest):
        client.get(SUMMARY)
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "cls", "fragment"),
    [
        (401, {"code": "BadApiKey"}, AuthenticationError, "live or demo"),
        (
            403,
            {"code": "ScopeMissing", "message": "Scope( history:dividends ) missing for API key"},
            PermissionDenied,
            "lacks the scope 'history:dividends'",
        ),
        (403, {"code": "Forbidden"}, PermissionDenied, "restricted to other IP addresses"),
        (404, {}, NotFound, "404"),
        (400, {"code": "BadRequest", "message": "limit must be <= 50"}, BadRequest, "limit must"),
        (422, {"message": "odd"}, BadRequest, "odd"),
    ],
)
def test_fatal_errors_fail_at_once_with_actionable_message(status, body, cls, fragment):
    script = Script(json_response(body, status))
    with make_client(script) as client, pytest.raises(cls) as err:
        client.get(SUMMARY)
    assert fragment in str(err.value)
    assert len(script.requests) == 1
    assert err.value.status == status


def test_scope_is_exposed_on_permission_error():
    body = {"code": "x", "message": "Scope( metadata ) missing for API key"}
    client = make_client(Script(json_response(body, 403)))
    with client, pytest.raises(PermissionDenied) as err:
        client.get(SUMMARY)
    assert err.value.scope == "metadata"


def test_retriable_errors_are_retried_then_succeed():
    script = Script(
        json_response({}, 502),
        httpx.Response(503, content=b""),
        json_response({}, 408),
        json_response({"id": 7}),
    )
    clock = FakeClock()
    policy = RetryPolicy(backoff_base=0.5)
    with make_client(script, clock, retry=policy, limits=LENIENT) as client:
        response = client.get(SUMMARY)
        stats = client.stats[SUMMARY]
    assert response.data == {"id": 7}
    assert (stats.requests, stats.retries) == (4, 3)
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_retries_are_bounded_in_count():
    script = Script(json_response({}, 500))
    client = make_client(script, retry=RetryPolicy(max_attempts=3, backoff_base=0.01))
    with client, pytest.raises(RetriesExhausted) as err:
        client.get(SUMMARY)
    assert len(script.requests) == 3
    assert isinstance(err.value.last, ServerError)
    assert "gave up after 3 attempts" in str(err.value)


def test_retries_are_bounded_in_total_wait():
    script = Script(json_response({}, 500))
    policy = RetryPolicy(max_attempts=100, max_total_wait=10.0, backoff_base=4.0, backoff_cap=4.0)
    clock = FakeClock()
    client = make_client(script, clock, retry=policy, limits=LENIENT)
    with client, pytest.raises(RetriesExhausted):
        client.get(SUMMARY)
    assert len(script.requests) == 4  # waits 4 + 4 + 4 >= 10, then gives up
    assert clock.sleeps == [4.0, 4.0, 4.0]


def test_retry_after_on_503_is_honoured_within_the_documented_period():
    script = Script(
        httpx.Response(503, headers={"retry-after": "3"}),
        httpx.Response(503, headers={"retry-after": "86400"}),
        httpx.Response(503, headers={"retry-after": "inf"}),
        json_response({"id": 1}),
    )
    clock = FakeClock()
    with make_client(script, clock, limits={SUMMARY: (100, 5.0)}) as client:
        assert client.get(SUMMARY).data == {"id": 1}
    assert clock.sleeps == [3.0, 5.0, 4.0]  # the last one had no usable value: backoff


def test_backoff_is_jittered_by_the_injected_random_source():
    script = Script(json_response({}, 500), json_response({}, 502), json_response({"id": 1}))
    clock = FakeClock()
    draws = iter([0.5, 1.0])
    policy = RetryPolicy(backoff_base=2.0, jitter=0.5)
    client = make_client(
        script, clock, retry=policy, limits=LENIENT, random_source=lambda: next(draws)
    )
    with client:
        client.get(SUMMARY)
    assert clock.sleeps == [1.5, 2.0]  # 2 s and 4 s, less half of them times the draw


def test_transport_errors_and_timeouts_are_retried():
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("reset", request=request)
        if calls["n"] == 2:
            raise httpx.ReadTimeout("slow", request=request)
        return json_response({"ok": True})

    with make_client(Script(flaky), retry=RetryPolicy(backoff_base=0.01)) as client:
        assert client.get(SUMMARY).data == {"ok": True}
        assert client.stats[SUMMARY].retries == 2


def test_transport_error_message_after_exhaustion():
    def dead(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = make_client(Script(dead), retry=RetryPolicy(max_attempts=2, backoff_base=0))
    with client, pytest.raises(RetriesExhausted) as err:
        client.get(SUMMARY)
    assert isinstance(err.value.last, TransportError)
    assert "timed out" in str(err.value)


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
        (b'{"items": [{"amount": 1.5', "application/json"),
        (b"{not json", "application/json"),
    ],
)
def test_malformed_bodies_are_retried_then_reported(content, ctype):
    script = Script(httpx.Response(200, content=content, headers={"content-type": ctype}))
    client = make_client(script, retry=RetryPolicy(max_attempts=2, backoff_base=0))
    with client, pytest.raises(RetriesExhausted) as err:
        client.get(SUMMARY)
    assert isinstance(err.value.last, MalformedResponse)
    message = str(err.value)
    assert (
        "HTTP 200" in message and ctype in message and repr(content[:10].decode())[1:-1] in message
    )
    assert len(script.requests) == 2


def test_html_error_page_on_5xx_is_described_not_dumped():
    page = b"<html>" + b"x" * 5000 + b"</html>"
    script = Script(httpx.Response(502, content=page, headers={"content-type": "text/html"}))
    client = make_client(script, retry=RetryPolicy(max_attempts=1))
    with client, pytest.raises(RetriesExhausted) as err:
        client.get(SUMMARY)
    assert "text/html" in str(err.value)
    assert len(str(err.value)) < 500


@pytest.mark.parametrize(
    "raw",
    ["17.0000000000", "0E-10", "1.2345678901", "-0.0000000001", "123456789012345678.1234567891"],
)
def test_money_is_decoded_exactly(raw):
    data = decode_json(f'{{"amount": {raw}, "n": 3}}'.encode())
    assert data["amount"] == Decimal(raw)
    assert isinstance(data["amount"], Decimal)
    assert data["n"] == 3 and isinstance(data["n"], int)


def test_exact_money_through_the_client():
    body = b'{"items": [{"amount": 0.1000000000}, {"amount": 2E-7}], "nextPagePath": null}'
    script = Script(httpx.Response(200, content=body, headers={"content-type": "application/json"}))
    with make_client(script) as client:
        response = client.get("/api/v0/equity/history/dividends")
    assert [i["amount"] for i in response.data["items"]] == [Decimal("0.1"), Decimal("2E-7")]
    assert response.body == body


def test_counters_track_requests_bytes_and_429s():
    reset = 1_800_000_030.0
    script = Script(
        json_response({}, 429, rl_headers(1, 0, reset, 30)),
        json_response({"a": 1}, 200, rl_headers(1, 0, reset + 30, 30)),
    )
    clock = FakeClock()
    with make_client(script, clock) as client:
        client.get("/api/v0/equity/metadata/exchanges")
        stats = client.stats["/api/v0/equity/metadata/exchanges"]
    assert (stats.requests, stats.retries, stats.rate_limited) == (2, 1, 1)
    assert stats.wait_seconds == pytest.approx(30.0)
    assert stats.bytes == len(b'{"a": 1}') + 2


def test_secrets_never_in_repr_errors_or_tracebacks():
    import traceback

    creds = Credentials(KEY, SECRET)
    assert KEY not in repr(creds) and SECRET not in str(creds)
    script = Script(json_response({"code": "BadApiKey"}, 401))
    with make_client(script) as client:
        assert KEY not in repr(client)
        try:
            client.get(SUMMARY)
        except AuthenticationError:
            text = traceback.format_exc()
    token = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    for secret in (KEY, SECRET, token):
        assert secret not in text


def test_a_large_body_decodes_exactly_and_lets_other_threads_run():
    items = [{"ticker": f"T{i}_EQ", "quantity": 0.0000000001 * i, "n": i} for i in range(40_000)]
    body = json.dumps({"items": items, "nextPagePath": None}).encode()
    assert len(body) >= PREEMPTIBLE_BODY
    ticks, done = [], threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())

    other = threading.Thread(target=count)
    other.start()
    try:
        time.sleep(0.01)  # the counter is running and wants the interpreter
        started = time.perf_counter()
        data = decode_json(body)
        ended = time.perf_counter()
    finally:
        done.set()
        other.join()
    assert data == json.loads(body, parse_float=Decimal)
    assert isinstance(data["items"][7]["quantity"], Decimal) and data["items"][7]["n"] == 7
    # one C call would hold the interpreter from start to end; the counter ran in between
    middle = (started + 0.25 * (ended - started), ended - 0.25 * (ended - started))
    assert any(middle[0] < t < middle[1] for t in ticks)


def test_clients_share_one_tls_context(monkeypatch):
    made = []
    real = ssl.create_default_context

    def create(*args, **kwargs):
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", create)
    tls_context.cache_clear()
    try:
        for env in ("demo", "live", "demo"):
            T212Client(Credentials(KEY, SECRET), env=env).close()
    finally:
        tls_context.cache_clear()
    assert len(made) == 1
