"""Resource declarations and the incremental stop rule of the extract loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from hypothesis import given
from hypothesis import strategies as st

from extractors.extraction import dig, ends_walk, fetch_pages, newest_time, parse_time
from extractors.resources import DOCUMENTED_LIMITS, ON_REQUEST, RESOURCES, RUN_ORDER, Kind
from tests.extractors.fakes import Script, client_for, json_response
from transforms.catalogue import TABLES

DIVS = RESOURCES["dividends"]


def test_every_resource_targets_declared_tables_and_runs_in_order():
    assert set(RUN_ORDER) == set(RESOURCES)
    for resource in RESOURCES.values():
        assert all(t in TABLES for t in resource.tables)
        if resource.kind == Kind.HISTORY:
            assert resource.key and resource.cursor


def test_limits_run_order_and_on_request_come_from_the_declarations():
    assert RUN_ORDER[0] == "account_summary"  # it names the account
    assert sorted(ON_REQUEST) == ["reports"]
    for resource in RESOURCES.values():
        method = "GET " if resource.kind == Kind.REPORTS else ""
        assert DOCUMENTED_LIMITS[method + resource.path] == resource.limit
    assert DOCUMENTED_LIMITS[DIVS.path] == (6, 60.0)


def test_parse_time_normalises_offsets_to_utc():
    assert parse_time("2024-03-01T12:00:00+03:00") == datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert parse_time("2024-03-01T12:00:00.123Z").microsecond == 123000
    assert parse_time("2024-03-01T12:00:00") == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert parse_time("yesterday") is None and parse_time(None) is None
    assert dig({"order": {"id": 5}}, "order.id") == 5 and dig({"order": None}, "order.id") is None


def day_pages(n_pages: int, per_page: int = 5):
    """Dividends one per hour, newest first, from 2024-06-30 backwards."""
    newest = datetime(2024, 6, 30, tzinfo=UTC)

    def server(request):
        page = int(parse_qs(request.url.query.decode()).get("cursor", ["0"])[0])
        items = []
        for i in range(per_page):
            n = page * per_page + i
            paid = newest - timedelta(hours=n)
            items.append({"reference": f"r{n}", "paidOn": paid.isoformat()})
        nxt = f"/api/v0/equity/history/dividends?cursor={page + 1}" if page + 1 < n_pages else None
        return json_response({"items": items, "nextPagePath": nxt})

    return Script(server), newest


def test_full_read_without_watermark():
    script, _ = day_pages(6)
    with client_for(script) as client:
        pages = list(fetch_pages(client, DIVS))
    assert len(pages) == 6


def test_stops_at_first_page_reaching_watermark_minus_overlap():
    script, newest = day_pages(50)
    seen = []
    with client_for(script) as client:
        pages = list(
            fetch_pages(
                client, DIVS, watermark=newest, overlap=timedelta(hours=7), on_page=seen.append
            )
        )
    # items are hourly, 5 per page: the page holding hour 8 (older than 7 h) is the last read
    assert len(pages) == 2 == len(seen) == len(script.requests)


def test_no_new_activity_costs_one_request():
    script, newest = day_pages(50)
    with client_for(script) as client:
        pages = list(fetch_pages(client, DIVS, watermark=newest, overlap=timedelta(hours=1)))
    assert len(pages) == 1


def test_snapshot_resource_is_one_get():
    script = Script(json_response({"id": 1, "currency": "EUR"}))
    with client_for(script) as client:
        (page,) = fetch_pages(client, RESOURCES["account_summary"])
    assert page.data["id"] == 1
    assert script.requests[0].url.path == "/api/v0/equity/account/summary"


W = datetime(2025, 6, 1, tzinfo=UTC)  # the stored watermark
STOP = W - timedelta(days=2)


def _page(*times):
    return [{"reference": str(n), "paidOn": t and t.isoformat()} for n, t in enumerate(times)]


def test_a_page_of_known_items_reaching_the_overlap_ends_the_walk():
    assert ends_walk(DIVS, _page(W, W - timedelta(days=1), W - timedelta(days=3)), W, STOP)
    # still inside the overlap: the next page may hold items that arrived late
    assert not ends_walk(DIVS, _page(W, W - timedelta(days=1)), W, STOP)


def test_one_old_item_among_new_ones_or_an_item_without_a_time_goes_on():
    old = datetime(2001, 1, 2, tzinfo=UTC)
    assert not ends_walk(DIVS, _page(old, W + timedelta(hours=1)), W, STOP)
    assert not ends_walk(DIVS, _page(W + timedelta(hours=1), old), W, STOP)
    assert not ends_walk(DIVS, _page(None, old), W, STOP)


@given(st.lists(st.datetimes(timezones=st.just(UTC)), min_size=1, max_size=8))
def test_a_page_with_anything_newer_than_the_watermark_never_ends_the_walk(times):
    page = _page(*times)
    if any(t > W for t in times):
        assert not ends_walk(DIVS, page, W, STOP)
    else:
        assert ends_walk(DIVS, page, W, STOP) == any(t < STOP for t in times)


def test_times_after_the_run_started_never_become_the_newest():
    started = datetime(2025, 6, 2, tzinfo=UTC)
    page = _page(datetime(2099, 1, 1, tzinfo=UTC), W, W - timedelta(days=1))
    assert newest_time(DIVS, page, not_after=started) == W
    assert newest_time(DIVS, page) == datetime(2099, 1, 1, tzinfo=UTC)


def test_declared_limits_and_scopes_agree_with_the_api_double():
    # The sandbox keeps the API's documented limits and scopes as its own truth, so a
    # declaration that drifts from the specification fails here.
    from sandbox.config import DEFAULT_RATE_LIMITS
    from sandbox.resources import ROUTES

    for resource in RESOURCES.values():
        route = ROUTES[("GET", resource.path)]
        assert DEFAULT_RATE_LIMITS[route.endpoint] == resource.limit, resource.name
        assert resource.scope in route.scopes, resource.name
