"""The client against the sandbox over real sockets: every endpoint, no 429, exact totals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extractors.auth import Credentials
from extractors.client import T212Client
from extractors.errors import AuthenticationError, PermissionDenied
from extractors.resources import RESOURCES
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, Sandbox, SandboxSize
from tests.flows.harness import sandbox_config

API = "/api/v0/equity"


@pytest.fixture(scope="module")
def sandbox():
    # documented limits, windows 200 times shorter; 400 orders need 8 pages > a burst of 6
    size = SandboxSize(instruments=300, positions=20, dividends=150, orders=400, transactions=120)
    account = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, size=size)
    with Sandbox(sandbox_config(accounts=(account,), time_scale=0.005)) as sb:
        yield sb


def test_client_walks_every_endpoint_without_a_429(sandbox):
    truth = sandbox.truth(DEMO_ACCOUNT_ID)
    with T212Client(Credentials(DEMO_KEY, DEMO_SECRET), base_url=sandbox.base_url) as client:
        summary = client.get(f"{API}/account/summary").data
        assert summary["id"] == DEMO_ACCOUNT_ID
        positions = client.get(f"{API}/positions").data
        assert len(positions) == truth["positions"]["count"]
        assert len(client.get(f"{API}/metadata/instruments").data) == truth["instruments"]["count"]
        assert len(client.get(f"{API}/metadata/exchanges").data) == truth["exchanges"]["count"]
        for name, key in (("dividends", "reference"), ("transactions", "reference")):
            items = [i for p in client.paginate(RESOURCES[name].path) for i in p.data["items"]]
            assert len({i[key] for i in items}) == len(items) == truth[name]["count"]
            assert sum(i["amount"] for i in items) == truth[name]["amount"]
            assert all(not isinstance(i["amount"], float) for i in items)
        orders = [i for p in client.paginate(RESOURCES["orders"].path) for i in p.data["items"]]
        assert len({i["order"]["id"] for i in orders}) == truth["orders"]["count"]
        reports = client.get(f"{API}/history/exports").data
        assert isinstance(reports, list)
        stats = client.stats
    assert sum(s.rate_limited for s in stats.values()) == 0
    assert sum(s.retries for s in stats.values()) == 0
    # the history walks needed more than one window: the limiter waited instead of a 429
    assert stats[f"{API}/history/orders"].wait_seconds > 0
    assert isinstance(truth["dividends"]["amount"], Decimal)


def test_wrong_secret_and_missing_scope_over_sockets(sandbox):
    wrong = T212Client(Credentials(DEMO_KEY, "wrong"), base_url=sandbox.base_url)
    with wrong, pytest.raises(AuthenticationError):
        wrong.get(f"{API}/account/summary")
    scopes = ["account", "portfolio", "metadata", "history:orders", "history:transactions"]
    sandbox.set_key_scopes(DEMO_KEY, scopes)
    try:
        client = T212Client(Credentials(DEMO_KEY, DEMO_SECRET), base_url=sandbox.base_url)
        with client, pytest.raises(PermissionDenied) as err:
            client.get(f"{API}/history/dividends")
        assert err.value.scope == "history:dividends"
    finally:
        sandbox.set_key_scopes(DEMO_KEY, [*scopes, "history:dividends"])
