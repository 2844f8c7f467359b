"""Landed pages read a column at a time give exactly what the record path gives, or defer to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from extractors.client import decode_json
from extractors.resources import RESOURCES
from flows.pipeline import history
from flows.pipeline.history import Chunk, columnar_chunk, normalise_bodies, normalise_decoded
from sandbox import DEMO_ACCOUNT_ID, AccountSpec, SandboxSize
from sandbox.account import AccountBook
from sandbox.config import DEFAULT_NOW, DEMO_KEY, DEMO_SECRET
from sandbox.wire import encode
from tests.transforms.test_properties import QUICK, dividend_items, order_items
from transforms.frames import odd_currencies, to_arrow

AT = datetime(2025, 7, 1, 21, 0, tzinfo=UTC)
ACCOUNT = 7


def pages_of(items: list, per_page: int = 3) -> list[bytes]:
    """Items as landed page bodies, compact JSON with exact decimals."""
    return [
        encode({"items": items[i : i + per_page], "nextPagePath": None})
        for i in range(0, max(len(items), 1), per_page)
    ]


def strict_json(body: bytes) -> bool:
    """Whether ``body`` is JSON as the standard has it (no NaN or Infinity), checked apart
    from the code under test."""

    def refuse(constant: str):
        raise ValueError(constant)

    try:
        json.loads(body, parse_constant=refuse)
    except ValueError:
        return False
    return True


def record_path(name: str, bodies: list[bytes]) -> Chunk:
    return normalise_decoded(RESOURCES[name], [decode_json(b) for b in bodies], ACCOUNT, AT)


def assert_same(fast: Chunk, slow: Chunk) -> None:
    """Same tables in the same order, same unknown fields, same newest time, no problems."""
    assert slow.normalised.problems == []
    assert list(fast.normalised.frames) == list(slow.normalised.frames)
    for name, frame in slow.normalised.frames.items():
        expected = to_arrow(frame, name)
        assert to_arrow(fast.normalised.frames[name], name).equals(expected), name
    assert fast.normalised.unknown_fields == slow.normalised.unknown_fields
    assert fast.newest == slow.newest


def check(name: str, items: list) -> bool:
    """Compare both paths on ``items``; returns whether the columnar path took them."""
    try:
        bodies = pages_of(items)  # the test's own encoder refuses a non-finite decimal
    except ValueError:
        return False
    if not all(strict_json(body) for body in bodies):
        return False  # a non-finite number is not JSON: the API cannot send it
    slow = record_path(name, bodies)  # an error of the path under test fails the test
    fast = columnar_chunk(RESOURCES[name], bodies, ACCOUNT, AT)
    if fast is None:
        chosen = normalise_bodies(RESOURCES[name], bodies, ACCOUNT, AT)
        assert chosen.normalised.problems == slow.normalised.problems
        return False
    assert_same(fast, slow)
    return True


@QUICK
@given(st.lists(dividend_items(), max_size=7))
def test_any_dividends_give_the_same_rows_or_go_record_by_record(drawn):
    items = [dict(record, reference=f"ref-{i % 5}") for i, (record, _) in enumerate(drawn)]
    check("dividends", items)


@QUICK
@given(st.lists(order_items(), max_size=7))
def test_any_orders_give_the_same_rows_or_go_record_by_record(items):
    check("orders", items)


def _book(extra_fields: bool) -> AccountBook:
    size = SandboxSize(instruments=60, dividends=240, orders=240, transactions=240)
    spec = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, size=size)
    return AccountBook(212, spec, int(DEFAULT_NOW.timestamp() * 1000), extra_fields)


@pytest.mark.parametrize("extra_fields", [False, True])
@pytest.mark.parametrize("name", ["dividends", "orders", "transactions"])
def test_sandbox_pages_take_the_columnar_path_and_match(name, extra_fields):
    series = getattr(_book(extra_fields), name)
    items = [series.item(i) for i in range(240)]
    bodies = pages_of(items, per_page=50)
    fast = columnar_chunk(RESOURCES[name], bodies, ACCOUNT, AT)
    assert fast is not None
    slow = record_path(name, bodies)
    assert_same(fast, slow)
    assert sum(len(f) for f in fast.normalised.frames.values()) >= 240
    assert bool(fast.normalised.unknown_fields) == extra_fields


def _dividend(n: int, **changes) -> dict:
    item = {
        "reference": f"r{n}",
        "ticker": "AAA_US_EQ",
        "type": "ORDINARY",
        "paidOn": f"2024-03-{n + 1:02d}T10:00:00.000+02:00",
        "amount": Decimal("1.2300000000"),
        "currency": "EUR",
        "instrument": {"ticker": "AAA_US_EQ", "name": "A", "isin": "X", "currency": "USD"},
    }
    return {**item, **changes}


@pytest.mark.parametrize(
    "odd",
    [
        {"amount": Decimal("0.12345678901")},  # eleven places: the record path reports it
        {"amount": Decimal("1E+28")},  # too many integer digits
        {"amount": "1_000"},  # Python reads it, Arrow does not
        {"reference": None},  # a missing key
        {"reference": "r0"},  # a repeated key: the first occurrence wins
        {"paidOn": "yesterday"},  # an unreadable time
        {"type": 5},  # a number where text is declared
        {"instrument": "AAA"},  # a string where an object is expected
    ],
)
def test_anything_odd_goes_record_by_record_with_the_same_outcome(odd):
    items = [_dividend(0), _dividend(1, **odd), _dividend(2)]
    bodies = pages_of(items)
    assert columnar_chunk(RESOURCES["dividends"], bodies, ACCOUNT, AT) is None
    chosen = normalise_bodies(RESOURCES["dividends"], bodies, ACCOUNT, AT)
    slow = record_path("dividends", bodies)
    assert chosen.normalised.problems == slow.normalised.problems
    frame = chosen.normalised.frames["dividends"]
    assert frame["reference"].tolist() == slow.normalised.frames["dividends"]["reference"].tolist()


@pytest.mark.parametrize(
    "odd", [{"currency": "eur"}, {"instrument": {"ticker": "AAA_US_EQ", "currency": "</script>"}}]
)
def test_odd_currency_text_loads_column_wise_as_written(odd):
    items = [_dividend(0), _dividend(1, **odd), _dividend(2)]
    bodies = pages_of(items)
    chunk = columnar_chunk(RESOURCES["dividends"], bodies, ACCOUNT, AT)
    slow = record_path("dividends", bodies).normalised.frames["dividends"]
    fast = chunk.normalised.frames["dividends"]
    assert to_arrow(fast, "dividends").equals(to_arrow(slow, "dividends"))
    assert "eur" in fast["currency"].tolist() or "</script>" in fast["instrument_currency"].tolist()
    assert len(odd_currencies(chunk.normalised.frames)) == 1


def test_pretty_printed_pages_go_record_by_record():
    bodies = [json.dumps({"items": [json.loads(encode(_dividend(0)))]}, indent=2).encode()]
    assert columnar_chunk(RESOURCES["dividends"], bodies, ACCOUNT, AT) is None
    chosen = normalise_bodies(RESOURCES["dividends"], bodies, ACCOUNT, AT)
    assert chosen.normalised.frames["dividends"]["reference"].tolist() == ["r0"]


def test_unknown_fields_nested_and_in_taxes_are_found_as_the_record_path_finds_them():
    order = {"id": 1, "createdAt": "2024-01-01T00:00:00Z", "brandNew": {"deep": 1}}
    order["instrument"] = {"ticker": "A_EQ", "sector": None}
    tax = {"name": "STAMP", "chargedAt": "2024-01-01T00:00:00Z", "quantity": 1, "rate": "x"}
    fill = {"id": 9, "price": Decimal("2.50"), "walletImpact": {"taxes": [tax], "fee": 0}}
    bodies = pages_of([{"order": order, "fill": fill}, {"order": dict(order, id=2)}])
    fast = columnar_chunk(RESOURCES["orders"], bodies, ACCOUNT, AT)
    assert fast is not None
    assert fast.normalised.unknown_fields == {
        "order.brandNew",
        "order.instrument.sector",
        "fill.walletImpact.fee",
        "fill.walletImpact.taxes.rate",
    }
    assert_same(fast, record_path("orders", bodies))
    assert len(fast.normalised.frames["fill_taxes"]) == 1


def test_a_refused_chunk_is_retaken_in_small_chunks_so_only_its_pages_go_record_by_record(
    monkeypatch,
):
    monkeypatch.setattr(history, "REBUILD_CHUNK_PAGES", 6)
    monkeypatch.setattr(history, "RECORD_CHUNK_PAGES", 2)
    items = [_dividend(n) for n in range(18)]
    items[10]["amount"] = Decimal("0.12345678901")
    bodies = pages_of(items)  # six pages of three; the odd record is on page four
    taken = list(history.replay_chunks(RESOURCES["dividends"], iter(bodies), ACCOUNT, AT))
    assert len(taken) == 3
    assert [bool(c.normalised.problems) for c in taken] == [False, True, False]
    loaded = [r for c in taken for r in c.normalised.frames["dividends"]["reference"]]
    assert loaded == [f"r{n}" for n in range(18) if n != 10]
    assert max(c.newest for c in taken) == record_path("dividends", bodies).newest


def test_an_odd_currency_is_reported_once_per_resource_and_value(tmp_path, caplog):

    from flows.pipeline.account import _report
    from flows.pipeline.results import ResourceResult
    from warehouse import Warehouse
    from warehouse.merge import Load

    resource = RESOURCES["dividends"]
    pages = [
        pages_of([_dividend(n, currency="eu\x1b[2J") for n in range(first, first + 6)])
        for first in (0, 6)
    ]
    chunks = [columnar_chunk(resource, bodies, ACCOUNT, AT) for bodies in pages]
    result = ResourceResult("dividends", ACCOUNT)
    with Warehouse.open(tmp_path / "data") as wh:
        history.load_chunks(
            wh, Load("dividends", ACCOUNT, "run-1", AT), chunks, result, None,
        )  # fmt: skip
        stored = wh.connection.execute('SELECT DISTINCT "currency" FROM "dividends"').fetchall()
    assert result.counts["dividends"].inserted == 12 and stored == [("eu\x1b[2J",)]
    [notice] = result.notices
    assert "'eu\\x1b[2J'" in notice and "dividends.currency" in notice
    caplog.set_level("WARNING", logger="t212_etl")
    _report("invest", result, type("Ctx", (), {"reported_fields": set(), "progress": None})())
    assert [r.getMessage() for r in caplog.records].count(
        f"account invest, dividends: {notice}"
    ) == 1


def test_a_number_past_28_integer_digits_goes_record_by_record():
    # found by the property above: a double just past 10**28 passed Arrow's validation
    # (it fits 128 bits) while the record path skips the record
    item = {
        "order": {"id": 1, "status": None, "createdAt": None, "quantity": None,
                  "value": None, "limitPrice": None},
        "fill": {"id": 1, "price": 3.4028236695496673e28, "walletImpact": {"taxes": []}},
    }  # fmt: skip
    assert check("orders", [item]) is False


@pytest.mark.parametrize("quantity", ["2.9108917379599906E-226", "5.5E-48", "1.5E-11"])
def test_a_number_with_a_far_negative_exponent_goes_record_by_record(quantity):
    # found by the property above: Arrow reads a decimal of 49 or more decimal places as 0
    # without an error, where the record path keeps or reports the value exactly
    body = b'{"items": [{"reference": "r", "quantity": %s}], "nextPagePath": null}'
    assert columnar_chunk(RESOURCES["dividends"], [body % quantity.encode()], ACCOUNT, AT) is None
