"""Chunked merges: the same rows and counts as one merge, first occurrence wins, all or nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.warehouse.conftest import T0, T1, dividend, rows_table
from warehouse import MergeCounts
from warehouse.merge import Load


def _rows(wh, name):
    return wh.connection.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()


def _dividends(*rows):
    return {"dividends": rows_table("dividends", list(rows))}


def _fills(*fills):
    """fills and fill_taxes tables from (fill_id, price, [tax names])."""
    fill_rows = [
        {"account_id": 1, "fill_id": f, "order_id": 1, "price": Decimal(p)} for f, p, _ in fills
    ]
    tax_rows = [
        {"account_id": 1, "fill_id": f, "name": n, "charged_at": T0, "quantity": Decimal("-1")}
        for f, _, names in fills
        for n in names
    ]
    return {
        "fills": rows_table("fills", fill_rows),
        "fill_taxes": rows_table("fill_taxes", tax_rows),
    }


def test_chunks_equal_one_merge_and_commit_with_the_cursor(tmp_path):
    from warehouse import Warehouse

    chunks = [
        _dividends(dividend("a", "1"), dividend("b", "2")),
        _dividends(dividend("b", "9"), dividend("c", "3")),  # b repeats: the first wins
        _dividends(dividend("d", "4")),
    ]
    with Warehouse.open(tmp_path / "one") as one, Warehouse.open(tmp_path / "many") as many:
        # what a normaliser hands one merge: every key once, its first occurrence
        firsts: dict[str, dict] = {}
        for row in (r for c in chunks for r in c["dividends"].to_pylist()):
            firsts.setdefault(row["reference"], row)
        whole = _dividends(*firsts.values())
        expected = one.merge_resource(Load("dividends", 1, "r1", T1), whole, {"watermark": "w"})
        with many.merge_batch(Load("dividends", 1, "r1", T1)) as batch:
            for chunk in chunks:
                batch.add(chunk)
            assert many.count_rows("dividends") == 0  # nothing visible before the commit
            counts = batch.commit({"watermark": "w"})
        assert counts == expected == {"dividends": MergeCounts(4, 4, 0)}
        assert _rows(many, "dividends") == _rows(one, "dividends")
        assert many.get_state(1, "dividends")["cursor"] == {"watermark": "w"}
        assert dict.fromkeys(r[1] for r in _rows(many, "dividends")) == dict.fromkeys("abcd")
        amounts = {r[1]: r[6] for r in _rows(many, "dividends")}
        assert amounts["b"] == Decimal("2")


def test_updates_across_chunks_are_counted_once(wh):
    wh.merge_resource(
        Load("dividends", 1, "r0", T0), _dividends(dividend("a", "1"), dividend("b", "2")), None
    )
    with wh.merge_batch(Load("dividends", 1, "r1", T1)) as batch:
        batch.add(_dividends(dividend("a", "5")))
        batch.add(_dividends(dividend("a", "6"), dividend("b", "7"), dividend("c", "1")))
        counts = batch.commit(None)
    assert counts == {"dividends": MergeCounts(3, 1, 2)}
    assert {r[1]: r[6] for r in _rows(wh, "dividends")}["a"] == Decimal("5")


def test_taxes_of_a_repeated_fill_come_from_its_first_chunk(wh):
    owners = {"fill_taxes": "fills"}
    with wh.merge_batch(Load("orders", 1, "r1", T1), owners=owners) as batch:
        batch.add(_fills((10, "1.5", ["FEE"])))
        batch.add(_fills((10, "1.5", ["FEE", "STAMP"]), (11, "2", ["STAMP"])))
        counts = batch.commit(None)
    assert counts["fills"] == MergeCounts(2, 2, 0)
    assert counts["fill_taxes"] == MergeCounts(2, 2, 0)
    assert {(r[1], r[2]) for r in _rows(wh, "fill_taxes")} == {(10, "FEE"), (11, "STAMP")}


def test_an_error_or_no_commit_leaves_nothing(wh):
    with pytest.raises(RuntimeError), wh.merge_batch(Load("dividends", 1, "r", T1)) as b:
        b.add(_dividends(dividend("a", "1")))
        raise RuntimeError("page 7 failed")
    with wh.merge_batch(Load("dividends", 1, "r", T1)) as batch:
        batch.add(_dividends(dividend("a", "1")))
    assert wh.count_rows("dividends") == 0
    assert wh.get_state(1, "dividends") is None
    assert wh.check_parquet() == []


def test_batches_of_two_resources_may_be_open_at_once(wh):
    with (
        wh.merge_batch(Load("dividends", 1, "r", T1)) as first,
        wh.merge_batch(Load("orders", 1, "r", T1)) as second,
    ):
        first.add(_dividends(dividend("a", "1")))
        second.add(_fills((10, "1", ["FEE"])))
        second.commit(None)
        first.commit({"watermark": "x"})
    assert wh.count_rows("dividends") == wh.count_rows("fills") == 1
    wh.publish_parquet()
    assert wh.check_parquet() == []
