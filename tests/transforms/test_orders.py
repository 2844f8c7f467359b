"""Historical orders: orders, fills and fill taxes."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from tests.transforms import records
from transforms.catalogue import table
from transforms.frames import frame_columns, to_arrow
from transforms.orders import normalise_orders

D = Decimal


def _item(order=None, fill=None, **kwargs):
    return {"order": order or records.order(), "fill": fill, **kwargs}


def test_order_with_fill_and_taxes_gives_three_tables():
    result = normalise_orders([_item(fill=records.fill())], account_id=3)
    orders, fills, taxes = (result.frames[n] for n in ("orders", "fills", "fill_taxes"))
    for name, frame in result.frames.items():
        assert list(frame.columns) == frame_columns(table(name))
        assert to_arrow(frame, name).num_rows == 1
    assert orders.iloc[0]["order_id"] == 9001
    assert orders.iloc[0]["created_at"] == pd.Timestamp("2024-04-02T13:30:00.125Z")
    assert orders.iloc[0]["instrument_isin"] == "XX0000000001"
    fill = fills.iloc[0]
    assert (fill["fill_id"], fill["order_id"], fill["ticker"]) == (7001, 9001, "AAPL_US_EQ")
    assert fill["wallet_impact_fx_rate"] == D("0.79123")
    assert fill["wallet_impact_realised_profit_loss"] == 0
    tax = taxes.iloc[0]
    assert (tax["account_id"], tax["fill_id"], tax["name"]) == (3, 7001, "CURRENCY_CONVERSION_FEE")
    assert tax["charged_at"] == pd.Timestamp("2024-04-02T13:30:01Z")
    assert tax["quantity"] == D("-0.33")
    assert result.problems == [] and result.unknown_fields == set()


def test_orders_by_value_and_by_quantity_both_load():
    by_value = records.order(
        id=2,
        strategy="VALUE",
        quantity=None,
        filledQuantity=None,
        value=D("100"),
        filledValue=D("99.98"),
    )
    result = normalise_orders([_item(), _item(by_value)], account_id=1)
    orders = result.frames["orders"]
    assert orders["quantity"].tolist() == [D("1.5"), None]
    assert orders["value"].tolist() == [None, D("100")]
    assert orders["filled_value"].tolist() == [None, D("99.98")]


def test_missing_or_null_fill_gives_no_fill_rows():
    items = [_item(records.order(id=1)), {"order": records.order(id=2)}]
    result = normalise_orders(items, account_id=1)
    assert len(result.frames["orders"]) == 2
    assert result.frames["fills"].empty and result.frames["fill_taxes"].empty
    assert result.problems == []


def test_several_taxes_become_child_rows():
    fill = records.fill()
    fill["walletImpact"]["taxes"] = [
        records.tax(),
        records.tax(name="STAMP_DUTY_RESERVE_TAX", quantity=D("-1.12")),
        records.tax(),
    ]
    taxes = normalise_orders([_item(fill=fill)], account_id=1).frames["fill_taxes"]
    assert taxes["name"].tolist() == ["CURRENCY_CONVERSION_FEE", "STAMP_DUTY_RESERVE_TAX"]


def test_ticker_comes_from_the_instrument_when_absent():
    order = records.order(ticker=None)
    result = normalise_orders([_item(order, records.fill())], account_id=1)
    assert result.frames["orders"]["ticker"].tolist() == ["AAPL_US_EQ"]
    assert result.frames["fills"]["ticker"].tolist() == ["AAPL_US_EQ"]


def test_unusable_order_skips_the_item_and_unusable_fill_its_taxes():
    items = [
        _item(records.order(id=None), records.fill(id=1)),
        _item(records.order(id=2), records.fill(id=2, price="n/a")),
        _item(records.order(id=3), records.fill(id=3)),
    ]
    result = normalise_orders(items, account_id=1)
    assert result.frames["orders"]["order_id"].tolist() == [2, 3]
    assert result.frames["fills"]["fill_id"].tolist() == [3]
    assert result.frames["fill_taxes"]["fill_id"].tolist() == [3]
    assert len(result.problems) == 2
    assert result.problems[1].startswith("fills: record 1")


def test_bad_tax_is_reported_and_others_load():
    fill = records.fill()
    fill["walletImpact"]["taxes"] = [records.tax(chargedAt=None), "oops", records.tax()]
    result = normalise_orders([_item(fill=fill)], account_id=1)
    assert len(result.frames["fill_taxes"]) == 1
    assert len(result.problems) == 2
    assert all(p.startswith("fill_taxes: record 0") for p in result.problems)


def test_repeated_orders_and_fills_keep_the_first():
    items = [
        _item(records.order(id=1, status="FILLED"), records.fill(id=10)),
        _item(records.order(id=1, status="NEW"), records.fill(id=10, price=D("1"))),
    ]
    result = normalise_orders(items, account_id=1)
    assert result.frames["orders"]["status"].tolist() == ["FILLED"]
    assert result.frames["fills"]["price"].tolist() == [D("189.12")]
    assert len(result.frames["fill_taxes"]) == 1


def test_unknown_fields_at_every_level_are_reported():
    fill = records.fill(venue="X")
    fill["walletImpact"]["taxes"] = [records.tax(rate=D("0.15"))]
    order = records.order(expiresAt=None)
    result = normalise_orders([_item(order, fill, pie={"id": 1})], account_id=1)
    assert result.unknown_fields == {
        "pie",
        "order.expiresAt",
        "fill.venue",
        "fill.walletImpact.taxes.rate",
    }
    assert len(result.frames["fills"]) == 1


def test_unknown_enums_load_as_text():
    order = records.order(status="SOME_NEW_STATUS", initiatedFrom="WATCH")
    fill = records.fill(type="SOME_NEW_FILL_TYPE")
    result = normalise_orders([_item(order, fill)], account_id=1)
    assert result.frames["orders"]["initiated_from"].tolist() == ["WATCH"]
    assert result.frames["fills"]["type"].tolist() == ["SOME_NEW_FILL_TYPE"]


def test_flat_legacy_order_is_a_problem_not_a_crash():
    result = normalise_orders([records.order()], account_id=1)
    assert result.frames["orders"].empty
    assert "order_id: missing" in result.problems[0]
