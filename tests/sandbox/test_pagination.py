"""History pagination: newest first, every item exactly once, cursor forms, limit bounds."""

from __future__ import annotations

import re
from datetime import datetime
from itertools import pairwise

import httpx
import pytest

from sandbox import Sandbox
from tests.sandbox.conftest import API, decoded, key_of, walk

HISTORY = ("dividends", "orders", "transactions")
TIME_FIELD = {"dividends": "paidOn", "transactions": "dateTime"}


def _instant(item: dict, resource: str) -> datetime:
    text = item["order"]["createdAt"] if resource == "orders" else item[TIME_FIELD[resource]]
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("resource", HISTORY)
@pytest.mark.parametrize("limit", [1, 7, 20, 50])
def test_walk_visits_every_item_exactly_once_newest_first(
    sandbox: Sandbox, client: httpx.Client, resource: str, limit: int
) -> None:
    pages = walk(client, f"{API}/history/{resource}?limit={limit}")
    items = [item for page in pages for item in page]
    keys = [key_of(item) for item in items]
    expected = sandbox.truth(21200101)[resource]["count"]
    assert len(keys) == expected == len(set(keys))
    assert all(len(page) == limit for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= limit
    # many items carry whole seconds only, so order holds at the second
    seconds = [_instant(item, resource).replace(microsecond=0) for item in items]
    assert seconds == sorted(seconds, reverse=True)


@pytest.mark.parametrize("resource", HISTORY)
def test_page_boundaries_fall_inside_one_second(client: httpx.Client, resource: str) -> None:
    pages = walk(client, f"{API}/history/{resource}?limit=20")
    shared = sum(
        _instant(a[-1], resource).replace(microsecond=0)
        == _instant(b[0], resource).replace(microsecond=0)
        for a, b in pairwise(pages)
    )
    assert shared >= 2


def test_default_limit_is_20_and_numeric_cursor_form(client: httpx.Client) -> None:
    for resource in ("dividends", "orders"):
        body = decoded(client.get(f"{API}/history/{resource}"))
        assert len(body["items"]) == 20
        assert re.fullmatch(
            rf"/api/v0/equity/history/{resource}\?limit=20&cursor=\d{{13}}", body["nextPagePath"]
        )


def test_transactions_cursor_is_reference_plus_time(client: httpx.Client) -> None:
    first = decoded(client.get(f"{API}/history/transactions?limit=5"))
    second_path = first["nextPagePath"]
    match = re.fullmatch(
        r"/api/v0/equity/history/transactions\?limit=5&cursor=([0-9a-f-]{36})&time=(\S+)",
        second_path,
    )
    assert match
    second = decoded(client.get(second_path))
    assert second["items"][0]["reference"] == match.group(1)
    assert datetime.fromisoformat(match.group(2)).tzinfo is not None


@pytest.mark.parametrize("query", ["limit=0", "limit=51", "limit=-1", "limit=abc", "limit=2.5"])
@pytest.mark.parametrize("resource", HISTORY)
def test_limit_out_of_bounds_answers_400(client: httpx.Client, resource: str, query: str) -> None:
    response = client.get(f"{API}/history/{resource}?{query}")
    assert response.status_code == 400
    assert "limit" in response.json()["message"]


@pytest.mark.parametrize("resource", ["dividends", "orders"])
def test_non_numeric_cursor_answers_400(client: httpx.Client, resource: str) -> None:
    response = client.get(f"{API}/history/{resource}?cursor=abc")
    assert response.status_code == 400
    assert "cursor" in response.json()["message"]


def test_transactions_reject_bad_time_and_cursor_without_time(client: httpx.Client) -> None:
    assert client.get(f"{API}/history/transactions?cursor=x").status_code == 400
    assert client.get(f"{API}/history/transactions?time=yesterday").status_code == 400


def test_limit_50_is_allowed_and_last_page_has_null_next(client: httpx.Client) -> None:
    pages = walk(client, f"{API}/history/dividends?limit=50")
    assert [len(p) for p in pages] == [50, 50, 37]


def test_ticker_filter_walk_keeps_to_that_ticker(sandbox: Sandbox, client: httpx.Client) -> None:
    everything = [i for p in walk(client, f"{API}/history/dividends?limit=50") for i in p]
    ticker = everything[0]["ticker"]
    expected = [key_of(i) for i in everything if i["ticker"] == ticker]
    filtered = walk(client, f"{API}/history/dividends?limit=2&ticker={ticker}")
    assert [key_of(i) for p in filtered for i in p] == expected


def test_cursor_far_in_the_past_gives_an_empty_last_page(client: httpx.Client) -> None:
    body = decoded(client.get(f"{API}/history/orders?cursor=1000"))
    assert body == {"items": [], "nextPagePath": None}
