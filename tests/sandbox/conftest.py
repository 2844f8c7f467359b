"""Shared fixtures: sandboxes on port 0 in a thread, and httpx clients with demo keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_KEY,
    DEMO_SECRET,
    AccountSpec,
    Sandbox,
    SandboxConfig,
    SandboxSize,
)

API = "/api/v0/equity"
FAST_LIMITS = {
    f"GET {API}/history/dividends": (1000, 1.0),
    f"GET {API}/history/orders": (1000, 1.0),
    f"GET {API}/history/transactions": (1000, 1.0),
}
SMALL = SandboxSize(instruments=200, positions=25, dividends=137, orders=211, transactions=173)


def small_config(**overrides: object) -> SandboxConfig:
    """One small Invest account with the demo key; fast history limits unless overridden."""
    account = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, "invest", size=SMALL)
    values: dict = {"accounts": (account,), "time_scale": 0.001, "rate_limits": FAST_LIMITS}
    values.update(overrides)
    return SandboxConfig(**values)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The small sandbox, running."""
    with Sandbox(small_config()) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A client of the small sandbox with the demo key pair."""
    with httpx.Client(base_url=sandbox.base_url, auth=(DEMO_KEY, DEMO_SECRET), timeout=5) as c:
        yield c


def decoded(response: httpx.Response) -> object:
    """JSON with numbers as exact Decimals."""
    return response.json(parse_float=Decimal)


def patient_get(client: httpx.Client, path: str) -> httpx.Response:
    """GET, waiting for the window's reset whenever the answer is 429."""
    for _ in range(100):
        response = client.get(path)
        if response.status_code != 429:
            return response
        time.sleep(max(0.0, float(response.headers["x-ratelimit-reset"]) - time.time()) + 0.001)
    raise AssertionError("still limited after 100 tries")


def walk(client: httpx.Client, path: str, max_pages: int = 10_000) -> list[list[dict]]:
    """Follow nextPagePath from ``path`` to the end; the pages' item lists."""
    pages = []
    next_path: str | None = path
    while next_path:
        response = patient_get(client, next_path)
        assert response.status_code == 200, response.text
        body = decoded(response)
        pages.append(body["items"])
        next_path = body["nextPagePath"]
        assert len(pages) <= max_pages
    return pages


def key_of(item: dict) -> str:
    """Natural key of a history item."""
    if "order" in item:
        return str(item["order"]["id"])
    return item["reference"]
