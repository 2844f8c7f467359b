"""Resource declarations and the incremental stop rule of the extract loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from extractors.auth import Credentials
from extractors.client import T212Client
from extractors.resources import RESOURCES, RUN_ORDER, dig, fetch_pages, parse_time
from tests.extractors.fakes import FakeClock, Script, json_response
from transforms.catalogue import TABLES

DIVS = RESOURCES["dividends"]


def test_every_resource_targets_declared_tables_and_runs_in_order():
    assert set(RUN_ORDER) == set(RESOURCES)
    for resource in RESOURCES.values():
        assert all(t in TABLES for t in resource.tables)
        if resource.kind == "history":
            assert resource.key and resource.cursor


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


def client_for(script: Script) -> T212Client:
    clock = FakeClock()
    return T212Client(
        Credentials("k", "s"), transport=script.transport, clock=clock, sleep=clock.sleep
    )


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
