"""Auth: HTTP Basic and the legacy header, 401s, scopes and the IP rule."""

from __future__ import annotations

import base64
from dataclasses import replace

import httpx

from sandbox import (
    DEMO_ISA_ACCOUNT_ID,
    DEMO_ISA_KEY,
    DEMO_ISA_SECRET,
    DEMO_KEY,
    DEMO_SECRET,
    Sandbox,
    SandboxConfig,
)
from tests.sandbox.conftest import API, small_config

SUMMARY = f"{API}/account/summary"
DIVIDENDS = f"{API}/history/dividends"
RATE_HEADERS = ("limit", "period", "remaining", "reset", "used")


def test_basic_auth_opens_the_account(client: httpx.Client) -> None:
    response = client.get(SUMMARY)
    assert response.status_code == 200
    assert response.json()["id"] == 21200101


def test_legacy_bare_key_header_is_accepted(sandbox: Sandbox) -> None:
    response = httpx.get(sandbox.base_url + SUMMARY, headers={"Authorization": DEMO_KEY})
    assert response.status_code == 200


def test_missing_credentials_answer_401_without_account_headers(sandbox: Sandbox) -> None:
    response = httpx.get(sandbox.base_url + SUMMARY)
    assert response.status_code == 401
    assert response.json()["code"] == "BadApiKey"
    assert "x-ratelimit-limit" not in response.headers


def test_wrong_secret_answers_401_with_rate_headers(sandbox: Sandbox) -> None:
    response = httpx.get(sandbox.base_url + SUMMARY, auth=(DEMO_KEY, "not-the-secret"))
    assert response.status_code == 401
    for name in RATE_HEADERS:
        assert f"x-ratelimit-{name}" in response.headers


def test_unknown_key_and_garbage_header_answer_401(sandbox: Sandbox) -> None:
    garbage = "Basic " + base64.b64encode(b"no-colon-here").decode()
    for headers in ({"Authorization": "Basic ###"}, {"Authorization": garbage}):
        assert httpx.get(sandbox.base_url + SUMMARY, headers=headers).status_code == 401
    assert httpx.get(sandbox.base_url + SUMMARY, auth=("unknown", "x")).status_code == 401


def test_missing_scope_answers_403_naming_it(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.set_key_scopes(DEMO_KEY, {"account", "portfolio"})
    response = client.get(DIVIDENDS)
    assert response.status_code == 403
    assert response.json() == {
        "code": "ScopeMissing",
        "message": "Scope( history:dividends ) missing for API key",
    }
    assert response.headers["x-ratelimit-limit"] == "1000"
    assert client.get(SUMMARY).status_code == 200
    assert "metadata" in client.get(f"{API}/metadata/exchanges").json()["message"]


def test_ip_restricted_key_answers_403_with_another_message(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.set_ip_restricted(DEMO_KEY, True)
    response = client.get(SUMMARY)
    assert response.status_code == 403
    assert response.json()["code"] == "IpNotAllowed"
    assert "Scope" not in response.json()["message"]
    sandbox.set_ip_restricted(DEMO_KEY, False)
    assert client.get(SUMMARY).status_code == 200


def test_each_key_sees_its_own_account() -> None:
    with Sandbox(SandboxConfig(time_scale=0.001)) as sb:
        isa = httpx.get(sb.base_url + SUMMARY, auth=(DEMO_ISA_KEY, DEMO_ISA_SECRET)).json()
        invest = httpx.get(sb.base_url + SUMMARY, auth=(DEMO_KEY, DEMO_SECRET)).json()
    assert (isa["id"], isa["currency"]) == (DEMO_ISA_ACCOUNT_ID, "GBP")
    assert invest["currency"] == "EUR"
    assert not DEMO_SECRET.startswith(("sk_", "live")) and "demo" in DEMO_SECRET


def test_unknown_path_and_method(client: httpx.Client) -> None:
    assert client.get(f"{API}/nope").status_code == 404
    assert client.post(SUMMARY).status_code == 405


def test_a_second_key_opens_the_same_account_and_shares_its_limits() -> None:
    config = small_config()
    second = ("sandbox-second-key-0000", "sandbox-second-secret-0000")
    account = replace(config.accounts[0], other_keys=(second,))
    with Sandbox(replace(config, accounts=(account,), time_scale=1.0)) as sb:
        first = httpx.get(sb.base_url + SUMMARY, auth=(DEMO_KEY, DEMO_SECRET))
        again = httpx.get(sb.base_url + SUMMARY, auth=second)
        wrong = httpx.get(sb.base_url + SUMMARY, auth=(second[0], DEMO_SECRET))
    assert first.status_code == 200 and first.json()["id"] == 21200101
    assert again.status_code == 429  # one budget: 1 per 5 s for the account, whatever the key
    assert wrong.status_code == 401
