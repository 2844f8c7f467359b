"""Faults on demand: each kind, the schedule (times, after, path, account) and seeded rates."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.sandbox.conftest import API, small_config

DIVIDENDS = f"{API}/history/dividends"
POSITIONS = f"{API}/positions"


@pytest.mark.parametrize("fault", ["500", "502", "503"])
def test_server_errors_keep_rate_headers(
    sandbox: Sandbox, client: httpx.Client, fault: str
) -> None:
    sandbox.inject(fault)
    response = client.get(DIVIDENDS)
    assert response.status_code == int(fault)
    assert response.content == b"" or "code" in response.json()
    assert response.headers["x-ratelimit-used"] == "1"
    assert client.get(DIVIDENDS).status_code == 200


def test_429_fault_comes_while_the_window_has_room(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.inject("429", path=DIVIDENDS)
    response = client.get(DIVIDENDS)
    assert response.status_code == 429
    assert int(response.headers["x-ratelimit-remaining"]) > 0
    assert {"x-ratelimit-reset", "x-ratelimit-period"} <= set(response.headers)


def test_slow_answer_outlasts_the_client_timeout() -> None:
    # a slow answer waits 60 s (600 s scaled): far more than any busy machine adds
    with Sandbox(small_config(slow_seconds=600.0, time_scale=0.1)) as sb:
        sb.inject("slow")
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(sb.base_url + DIVIDENDS, auth=(DEMO_KEY, DEMO_SECRET), timeout=0.1)
        assert httpx.get(sb.base_url + DIVIDENDS, auth=(DEMO_KEY, DEMO_SECRET)).status_code == 200
        sb.inject("slow")
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(sb.base_url + DIVIDENDS, auth=(DEMO_KEY, DEMO_SECRET), timeout=0.05)
    assert time.monotonic() - started < 30.0  # stopping cuts the 60 s answers short


def test_drip_sends_the_body_a_byte_at_a_time() -> None:
    # 20 ms a byte: every read is quick, the whole body slow
    with Sandbox(small_config(drip_seconds=20.0, time_scale=0.001)) as sb:
        sb.inject("drip")
        with httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET), timeout=1) as c:
            started = time.monotonic()
            with c.stream("GET", POSITIONS) as response:
                assert response.status_code == 200
                assert int(response.headers["content-length"]) > 1000
                chunks = []
                for chunk in response.iter_raw():
                    chunks.append(chunk)
                    if sum(map(len, chunks)) >= 10:
                        break
            elapsed = time.monotonic() - started
            assert c.get(POSITIONS).status_code == 200  # the next answer comes whole
    # bytes come one by one, 20 ms apart: the bytes read took at least that long (a busy
    # reader may find several waiting at once, so the size of each read proves nothing)
    received = sum(map(len, chunks))
    assert len(chunks) >= 2 and received >= 10
    assert elapsed >= (received - 1) * 0.02


def test_reset_drops_the_connection(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.inject("reset")
    with pytest.raises(httpx.TransportError):
        client.get(DIVIDENDS)
    assert client.get(DIVIDENDS).status_code == 200


def test_truncated_is_a_200_with_half_the_json(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.inject("truncated")
    cut = client.get(DIVIDENDS)
    whole = client.get(DIVIDENDS)
    assert cut.status_code == 200
    assert whole.content.startswith(cut.content) and len(cut.content) < len(whole.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)


def test_malformed_and_html_answers(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.inject("malformed")
    sandbox.inject("html200")
    sandbox.inject("html502")
    malformed = client.get(DIVIDENDS)
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    html = client.get(DIVIDENDS)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert b"<html" in html.content.lower()
    proxy = client.get(DIVIDENDS)
    assert proxy.status_code == 502 and b"502 Bad Gateway" in proxy.content


def test_stuck_cursor_repeats_the_current_page(sandbox: Sandbox, client: httpx.Client) -> None:
    first = client.get(f"{DIVIDENDS}?limit=5").json()
    sandbox.inject("stuck_cursor")
    assert client.get(POSITIONS).status_code == 200  # not a page: the fault waits
    stuck = client.get(first["nextPagePath"]).json()
    assert stuck["nextPagePath"] == first["nextPagePath"]


def test_foreign_cursor_points_elsewhere(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.inject("foreign_cursor", times=3)
    paths = [client.get(f"{DIVIDENDS}?limit=5").json()["nextPagePath"] for _ in range(3)]
    assert any(p.startswith("https://") for p in paths)
    assert any(p.startswith("//") for p in paths)
    assert any(p.startswith(f"{API}/history/orders") for p in paths)
    assert client.get(f"{DIVIDENDS}?limit=5").json()["nextPagePath"].startswith(DIVIDENDS)


def test_schedule_skips_after_and_matches_path_and_account(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.inject("503", path=DIVIDENDS, times=2, after=1)
    sandbox.inject("500", account_id=999)
    statuses = [client.get(DIVIDENDS).status_code for _ in range(4)]
    assert statuses == [200, 503, 503, 200]
    assert client.get(POSITIONS).status_code == 200
    sandbox.inject("500")
    sandbox.clear_faults()
    assert client.get(POSITIONS).status_code == 200


def _statuses(rate: float) -> list[int]:
    with (
        Sandbox(small_config()) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client,
    ):
        sb.set_fault_rates(e503=rate, **{"500": rate / 2})
        return [client.get(f"{DIVIDENDS}?limit=1").status_code for _ in range(200)]


def test_fault_rates_are_random_but_seeded() -> None:
    first, second = _statuses(0.2), _statuses(0.2)
    assert first == second
    assert 20 <= first.count(503) <= 65
    assert 5 <= first.count(500) <= 40
    assert first.count(200) == 200 - first.count(503) - first.count(500)


def test_faults_through_the_control_endpoint(sandbox: Sandbox, client: httpx.Client) -> None:
    spec = {"fault": "502", "path": DIVIDENDS, "times": 1}
    assert httpx.post(f"{sandbox.base_url}/_sandbox/faults", json=spec).status_code == 200
    assert client.get(DIVIDENDS).status_code == 502
    bad = httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"fault": "meteor"})
    assert bad.status_code == 400


def test_unknown_fault_name_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        sandbox.inject("meteor")
    with pytest.raises(ValueError):
        sandbox.set_fault_rates(**{"503": 1.5})


def test_echo_headers_answers_503_with_the_request_headers(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.inject("echo_headers")
    response = client.get(DIVIDENDS)
    assert response.status_code == 503 and response.headers["retry-after"] == "0"
    assert response.headers["content-type"].startswith("text/plain")
    token = base64.b64encode(f"{DEMO_KEY}:{DEMO_SECRET}".encode()).decode()
    assert f"Authorization: Basic {token}" in response.text
    assert response.headers["x-echo-authorization"] == f"Basic {token}"
    assert "x-ratelimit-used" in response.headers
    assert client.get(DIVIDENDS).status_code == 200


def test_a_fault_can_be_kept_for_one_method(sandbox: Sandbox, client: httpx.Client) -> None:
    exports = f"{API}/history/exports"
    body = {
        "dataIncluded": {"includeDividends": True},
        "timeFrom": "2024-01-01T00:00:00Z",
        "timeTo": "2024-06-01T00:00:00Z",
    }
    sandbox.inject("502", path=exports, method="POST")
    assert client.get(exports).status_code == 200  # a GET of the same path: no fault
    time.sleep(0.07)  # the GET window (60 s scaled to 60 ms)
    assert client.post(exports, json=body).status_code == 502
    # the fault hit the answer only: the server had made the report
    time.sleep(0.07)
    assert len(client.get(exports).json()) == 1
    spec = {"fault": "reset", "path": exports, "method": "POST"}
    assert httpx.post(f"{sandbox.base_url}/_sandbox/faults", json=spec).status_code == 200
    time.sleep(0.07)
    assert client.get(exports).status_code == 200
