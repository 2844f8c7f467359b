"""Merges by table kind, their counts, and all-or-nothing transactions."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from tests.warehouse.conftest import T0, T1, T2, dividend, position, rows_table
from warehouse import MergeCounts, merge
from warehouse.merge import Load


def _merge(wh, resource, tables, *, run_id, at, cursor=None, account=1):
    return wh.merge_resource(Load(resource, account, run_id, at), tables, cursor)


def _dividends(*rows, run_id="r0", at=T0):
    return {"dividends": rows_table("dividends", list(rows), loaded_at=at, run_id=run_id)}


def test_history_upsert_counts(wh):
    first = _merge(
        wh, "dividends", _dividends(dividend("a", "1.1"), dividend("b", "2.2")), run_id="r0", at=T0
    )
    assert first == {"dividends": MergeCounts(2, 2, 0)}
    again = _merge(
        wh,
        "dividends",
        _dividends(dividend("a", "1.1"), dividend("b", "2.2"), run_id="r1", at=T1),
        run_id="r1",
        at=T1,
    )
    assert again == {"dividends": MergeCounts(2, 0, 0)}
    changed = _merge(
        wh,
        "dividends",
        _dividends(dividend("a", "1.1000000001"), dividend("c", "3"), run_id="r2", at=T2),
        run_id="r2",
        at=T2,
    )
    assert changed == {"dividends": MergeCounts(2, 1, 1)}
    rows = {r["reference"]: r for r in wh.read_table("dividends").to_pylist()}
    assert rows["a"]["amount"] == Decimal("1.1000000001")
    assert (rows["a"]["_run_id"], rows["b"]["_run_id"], rows["c"]["_run_id"]) == ("r2", "r0", "r2")
    assert rows["b"]["_loaded_at"] == T0


def test_duplicate_keys_in_one_input_are_read_but_inserted_once(wh):
    counts = _merge(
        wh, "dividends", _dividends(dividend("a", "1"), dividend("a", "1")), run_id="r0", at=T0
    )
    assert counts == {"dividends": MergeCounts(2, 1, 0)}
    assert wh.count_rows("dividends") == 1


def _instrument(ticker, name):
    return {
        "ticker": ticker,
        "name": name,
        "currency_code": "USD",
        "max_open_quantity": Decimal("5"),
    }


def test_instruments_track_first_seen_last_seen_and_listing(wh):
    def load(rows, run_id, at):
        data = {"instruments": rows_table("instruments", rows, loaded_at=at, run_id=run_id)}
        return _merge(wh, "instruments", data, run_id=run_id, at=at, account=0)["instruments"]

    assert load([_instrument("A", "Alpha"), _instrument("B", "Beta")], "r0", T0) == (2, 2, 0)
    assert load([_instrument("A", "Alpha"), _instrument("C", "Gamma")], "r1", T1) == (2, 1, 1)
    assert load([_instrument("A", "Alpha 2"), _instrument("B", "Beta")], "r2", T2) == (2, 0, 3)
    rows = {r["ticker"]: r for r in wh.read_table("instruments").to_pylist()}
    assert (rows["A"]["first_seen_at"], rows["A"]["last_seen_at"]) == (T0, T2)
    assert (rows["A"]["name"], rows["A"]["is_listed"]) == ("Alpha 2", True)
    # B was missing from the list at T1 and came back at T2
    assert (rows["B"]["first_seen_at"], rows["B"]["last_seen_at"], rows["B"]["is_listed"]) == (
        T0,
        T2,
        True,
    )
    assert (rows["C"]["first_seen_at"], rows["C"]["last_seen_at"], rows["C"]["is_listed"]) == (
        T1,
        T1,
        False,
    )
    assert load([_instrument("A", "Alpha 2"), _instrument("B", "Beta")], "r3", T2) == (2, 0, 0)


def test_current_list_is_replaced(wh):
    def load(rows, run_id):
        data = {"exchanges": rows_table("exchanges", rows, run_id=run_id)}
        return _merge(wh, "exchanges", data, run_id=run_id, at=T0, account=0)["exchanges"]

    assert load([{"exchange_id": 1, "name": "NYSE"}, {"exchange_id": 2, "name": "LSE"}], "r0") == (
        2,
        2,
        0,
    )
    assert load([{"exchange_id": 2, "name": "LSE"}, {"exchange_id": 3, "name": "XETRA"}], "r1") == (
        2,
        1,
        1,
    )
    assert [r["name"] for r in wh.read_table("exchanges").to_pylist()] == ["LSE", "XETRA"]


def test_snapshots_append_and_replace_a_repeated_snapshot(wh):
    def load(rows, run_id, at):
        data = {"positions": rows_table("positions", rows, loaded_at=at, run_id=run_id)}
        return _merge(wh, "positions", data, run_id=run_id, at=at)["positions"]

    assert load([position("A", "1", "10"), position("B", "2", "20")], "r0", T0) == (2, 2, 0)
    assert load([position("A", "1", "10", at=T1)], "r1", T1) == (1, 1, 0)
    assert wh.count_rows("positions") == 3
    # the same snapshot loaded again (a rebuild) replaces its rows: B is gone from it
    assert load([position("A", "3", "10")], "r2", T0) == (1, 0, 2)
    rows = wh.read_table("positions").to_pylist()
    assert [(r["snapshot_at"], r["ticker"], r["quantity"]) for r in rows] == [
        (T0, "A", Decimal("3")),
        (T1, "A", Decimal("1")),
    ]


def _snapshot(wh):
    con = wh.connection
    return {
        name: con.sql(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()
        for name in ("dividends", "positions", "load_state", "pending_publish")
    }


def _seed(wh):
    tables = {
        "dividends": rows_table("dividends", [dividend("a", "1")]),
        "positions": rows_table("positions", [position("A", "1", "10")]),
    }
    _merge(wh, "mixed", tables, run_id="r0", at=T0, cursor={"after": "a"})


def test_constraint_violation_rolls_back_every_table_and_the_cursor(wh):
    _seed(wh)
    before = _snapshot(wh)
    null_key = position("B", "1", "10", at=T1)
    null_key["ticker"] = None
    tables = {
        "dividends": rows_table("dividends", [dividend("a", "9"), dividend("b", "2")]),
        "positions": rows_table("positions", [position("A", "2", "10", at=T1), null_key]),
    }
    with pytest.raises(Exception, match=r"(?i)null"):
        _merge(wh, "mixed", tables, run_id="r1", at=T1, cursor={"after": "b"})
    assert _snapshot(wh) == before
    assert wh.get_state(1, "mixed")["cursor"] == {"after": "a"}


def test_exception_after_the_first_table_rolls_back_everything(wh, monkeypatch):
    _seed(wh)
    before = _snapshot(wh)
    real = merge.merge_table
    calls = []

    def failing(con, table, incoming, load):
        calls.append(table.name)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(con, table, incoming, load)

    monkeypatch.setattr(merge, "merge_table", failing)
    tables = {
        "dividends": rows_table("dividends", [dividend("a", "9"), dividend("b", "2")]),
        "positions": rows_table("positions", [position("A", "2", "10", at=T1)]),
    }
    with pytest.raises(OSError, match="disk full"):
        _merge(wh, "mixed", tables, run_id="r1", at=T1, cursor={"after": "b"})
    assert calls == ["dividends", "positions"]
    assert _snapshot(wh) == before
    # the connection is usable again and the same merge then succeeds
    monkeypatch.setattr(merge, "merge_table", real)
    counts = _merge(wh, "mixed", tables, run_id="r1", at=T1, cursor={"after": "b"})
    assert counts == {"dividends": (2, 1, 1), "positions": (1, 1, 0)}
    assert wh.get_state(1, "mixed")["cursor"] == {"after": "b"}


def test_input_missing_a_declared_column_is_refused(wh):
    _seed(wh)
    before = _snapshot(wh)
    bad = rows_table("dividends", [dividend("z", "1")]).drop_columns(["amount"])
    with pytest.raises(ValueError, match="amount"):
        _merge(
            wh,
            "mixed",
            {"positions": rows_table("positions", []), "dividends": bad},
            run_id="r1",
            at=T1,
        )
    assert _snapshot(wh) == before


def test_state_round_trip(wh):
    assert wh.get_state(1, "dividends") is None
    _merge(
        wh,
        "dividends",
        _dividends(dividend("a", "1")),
        run_id="r0",
        at=T0,
        cursor={"time": "2024-03-01T00:00:00Z", "ids": ["a"]},
    )
    state = wh.get_state(1, "dividends")
    assert state == {
        "cursor": {"time": "2024-03-01T00:00:00Z", "ids": ["a"]},
        "last_success_at": T0,
        "last_run_id": "r0",
    }
    assert wh.count_rows("dividends", account_id=1) > 0
    assert wh.count_rows("dividends", account_id=2) == 0


def test_arrow_input_types_are_cast_to_the_catalogue(wh):
    rows = rows_table("dividends", [dividend("a", "1.25")])
    loose = rows.set_column(
        rows.schema.get_field_index("amount"),
        "amount",
        pa.array([Decimal("1.25")], pa.decimal128(10, 2)),
    )
    _merge(wh, "dividends", {"dividends": loose}, run_id="r0", at=T0)
    assert wh.read_table("dividends").column("amount").to_pylist() == [Decimal("1.25")]


def test_load_metadata_comes_from_the_merge_even_when_input_has_none(wh):
    rows = rows_table("dividends", [dividend("a", "1")])
    rows = rows.set_column(
        rows.schema.get_field_index("_run_id"), "_run_id", pa.nulls(1, pa.string())
    )
    _merge(wh, "dividends", {"dividends": rows}, run_id="r7", at=T2)
    stored = wh.read_table("dividends").to_pylist()[0]
    assert (stored["_run_id"], stored["_loaded_at"]) == ("r7", T2)
