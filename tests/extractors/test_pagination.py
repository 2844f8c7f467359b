"""Pagination: every form of nextPagePath, every refusal, early stop."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from extractors.errors import MalformedResponse, PaginationError
from extractors.pagination import resolve_next_page
from tests.extractors.fakes import Script, client_for, json_response

DIVS = "/api/v0/equity/history/dividends"
BASE = "https://live.trading212.com"


@pytest.mark.parametrize(
    "next_path",
    [
        "/api/v0/equity/history/dividends?cursor=123&limit=20",
        "https://live.trading212.com/api/v0/equity/history/dividends?cursor=123",
        "/equity/history/dividends?cursor=123",
        "?cursor=123&limit=50",
        "cursor=123",
    ],
)
def test_accepted_forms(next_path):
    resolved = resolve_next_page(next_path, DIVS, BASE)
    parts = urlsplit(resolved)
    assert parts.path == DIVS
    assert parse_qs(parts.query) == {"cursor": ["123"], "limit": ["50"]}


@pytest.mark.parametrize(
    ("next_path", "fragment"),
    [
        ("https://evil.example/api/v0/equity/history/dividends?cursor=1", "another host"),
        ("http://live.trading212.com/api/v0/equity/history/dividends?cursor=1", "another host"),
        ("/api/v0/equity/history/orders?cursor=1", "another endpoint"),
        ("/api/v0/equity/account/summary", "another endpoint"),
        ("   ", "empty"),
    ],
)
def test_refused_forms(next_path, fragment):
    with pytest.raises(PaginationError, match=fragment):
        resolve_next_page(next_path, DIVS, BASE)


def test_transactions_cursor_carries_time_untouched():
    resolved = resolve_next_page(
        "/api/v0/equity/history/transactions?cursor=ref-9&time=2024-01-02T03:04:05Z",
        "/api/v0/equity/history/transactions",
        BASE,
    )
    assert parse_qs(urlsplit(resolved).query) == {
        "cursor": ["ref-9"],
        "time": ["2024-01-02T03:04:05Z"],
        "limit": ["50"],
    }


def pages_server(n_pages: int, per_page: int = 3, next_form=None):
    """A fake history endpoint of n_pages pages, newest first."""

    def server(request):
        query = parse_qs(request.url.query.decode())
        page = int(query.get("cursor", ["0"])[0])
        items = [{"reference": f"r{page * per_page + i}"} for i in range(per_page)]
        nxt = None
        if page + 1 < n_pages:
            nxt = (next_form or (lambda p: f"{DIVS}?cursor={p}&limit=50"))(page + 1)
        return json_response({"items": items, "nextPagePath": nxt})

    return Script(server)


def test_walks_every_page_with_limit_50_and_no_time_on_first_request():
    script = pages_server(4)
    with client_for(script) as client:
        pages = list(client.paginate(DIVS))
    refs = [i["reference"] for p in pages for i in p.data["items"]]
    assert refs == [f"r{i}" for i in range(12)]
    first = parse_qs(script.requests[0].url.query.decode())
    assert first == {"limit": ["50"]}
    assert all(parse_qs(r.url.query.decode())["limit"] == ["50"] for r in script.requests)


def test_caller_can_stop_early():
    script = pages_server(100)
    with client_for(script) as client:
        for n, _page in enumerate(client.paginate(DIVS), start=1):
            if n == 2:
                break
    assert len(script.requests) == 2


def test_cursor_that_does_not_advance_is_detected():
    script = pages_server(5, next_form=lambda p: f"{DIVS}?cursor=1&limit=50")
    with client_for(script) as client, pytest.raises(PaginationError, match="did not advance"):
        list(client.paginate(DIVS))
    assert len(script.requests) == 2


def test_page_cap():
    script = pages_server(10)
    with client_for(script) as client, pytest.raises(PaginationError, match="more than 3 pages"):
        list(client.paginate(DIVS, max_pages=3))


def test_foreign_next_page_is_refused_before_any_request_to_it():
    script = pages_server(3, next_form=lambda p: f"https://evil.example{DIVS}?cursor={p}")
    with client_for(script) as client, pytest.raises(PaginationError, match="another host"):
        list(client.paginate(DIVS))
    assert {r.url.host for r in script.requests} == {"live.trading212.com"}


def test_page_without_items_is_malformed():
    script = Script(json_response({"data": []}))
    with client_for(script) as client, pytest.raises(MalformedResponse, match="'items'"):
        list(client.paginate(DIVS))
