"""The raw landing zone keeps every page byte for byte, in run and page order."""

from __future__ import annotations

import gzip
import threading
from datetime import UTC, datetime, timedelta

from warehouse.raw import (
    RawPage,
    RunKey,
    iter_bodies,
    iter_pages,
    iter_runs,
    write_page,
    write_run_complete,
)

START = datetime(2024, 5, 1, 2, 30, tzinfo=UTC)


def _land(data, run_id, started, bodies, *, account="Invest", resource="orders", complete=True):
    for number, body in enumerate(bodies, start=1):
        write_page(
            data,
            RunKey(account, resource, run_id, started),
            RawPage(
                number,
                body,
                f"/api/v0/equity/history/orders?page={number}",
                started + timedelta(seconds=number),
            ),
        )
    if complete:
        write_run_complete(
            data, account=account, resource=resource, run_id=run_id, pages=len(bodies)
        )


def test_round_trip_is_byte_exact_and_ordered(tmp_path):
    odd = '{"items":[{"price":1E-7,"name":"Caf\u00e9"}], "nextPagePath":null}\n'.encode()
    bodies = [b'{"items":[]}', odd] + [b"%d" % i for i in range(3, 13)]
    # the later run is written first: order comes from start times, not write order
    _land(tmp_path, "zz-second", START + timedelta(days=1), [b"later"])
    _land(tmp_path, "aa-first", START, bodies)
    runs = list(iter_runs(tmp_path, account="Invest", resource="orders"))
    assert [r.run_id for r in runs] == ["aa-first", "zz-second"]
    first = runs[0]
    assert (first.account, first.resource, first.started_at) == ("Invest", "orders", START)
    pages = list(iter_pages(first))
    assert [p.number for p in pages] == list(range(1, 13))
    assert [p.body for p in pages] == bodies
    assert pages[1].request_path.endswith("page=2")
    assert pages[1].received_at == START + timedelta(seconds=2)


def test_pages_are_gzip_on_disk_without_headers(tmp_path):
    _land(tmp_path, "r1", START, [b'{"a": 1}'])
    run = next(iter_runs(tmp_path))
    stored = run.path / "page-00001.json.gz"
    assert gzip.decompress(stored.read_bytes()) == b'{"a": 1}'
    for path in run.path.iterdir():
        text = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        assert b"Authorization" not in text and b"header" not in text.lower()


def test_incomplete_runs_are_skipped_unless_asked(tmp_path):
    _land(tmp_path, "done", START, [b"1"])
    _land(tmp_path, "broken", START + timedelta(hours=1), [b"1", b"2"], complete=False)
    assert [r.run_id for r in iter_runs(tmp_path)] == ["done"]
    runs = list(iter_runs(tmp_path, include_incomplete=True))
    assert [(r.run_id, r.complete) for r in runs] == [("done", True), ("broken", False)]


def test_runs_filter_by_account_and_resource(tmp_path):
    _land(tmp_path, "r1", START, [b"a"], account="Invest", resource="orders")
    _land(tmp_path, "r1", START, [b"b"], account="ISA / 2", resource="orders")
    _land(tmp_path, "r1", START, [b"c"], account="ISA / 2", resource="dividends")
    assert len(list(iter_runs(tmp_path))) == 3
    isa = list(iter_runs(tmp_path, account="ISA / 2"))
    assert sorted(r.resource for r in isa) == ["dividends", "orders"]
    only = list(iter_runs(tmp_path, account="ISA / 2", resource="orders"))
    assert [next(iter_pages(r)).body for r in only] == [b"b"]


def test_rewriting_a_page_replaces_it(tmp_path):
    _land(tmp_path, "r1", START, [b"first", b"x"])
    _land(tmp_path, "r1", START, [b"second", b"x"])
    run = next(iter_runs(tmp_path))
    assert [p.body for p in iter_pages(run)] == [b"second", b"x"]


def test_bodies_read_ahead_come_in_page_order_past_the_read_ahead(tmp_path):
    bodies = [b'{"items":[%d]}' % i for i in range(1, 80)]
    _land(tmp_path, "run", START, bodies)
    [run] = iter_runs(tmp_path)
    assert list(iter_bodies(run)) == bodies == [p.body for p in iter_pages(run)]
    reader = iter_bodies(run)
    assert next(reader) == bodies[0]
    reader.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("raw-read")]
