"""Currencies load as written, JSON and CSV alike; a value not shaped as a code is reported."""

from __future__ import annotations

import csv
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.wire import encode
from tests.transforms import records
from tests.transforms.test_properties import QUICK
from transforms.account_summary import normalise_account_summary
from transforms.catalogue import TABLES
from transforms.columnar import normalise_table_pages
from transforms.dividends import DIVIDENDS, normalise_dividends
from transforms.frames import odd_currencies
from transforms.instruments import normalise_instruments
from transforms.orders import normalise_orders
from transforms.positions import normalise_positions
from transforms.reports import read_report
from transforms.transactions import TRANSACTIONS, normalise_transactions

CODE = re.compile(r"[A-Z]{3}")
# pence as some price feeds spell it; the positions normaliser divides it to GBP
PENCE = "GBp"
HOSTILE = (
    'EUR"></div><img src=x onerror=alert(1)>',
    "EU",
    "EURO",
    "eur",
    "EUR ",
    "EUR\n",
    "ÉUR",
    "ＥＵＲ",
    "",
    "</script>",
)
codes = st.from_regex(CODE, fullmatch=True)
# mostly strings close to a code, so near misses are tried as often as wild ones
not_codes = st.one_of(
    st.text(max_size=6),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcz \n<>\"'É", min_size=1, max_size=4),
    st.sampled_from(HOSTILE),
).filter(lambda s: not CODE.fullmatch(s) and s != PENCE)


def _is_currency_name(name: str) -> bool:
    return name.endswith(("currency", "currency_code", "currency_major"))


def test_every_currency_column_is_declared_a_currency():
    named = {
        (t.name, c.name) for t in TABLES.values() for c in t.columns if _is_currency_name(c.name)
    }
    typed = {(t.name, c.name) for t in TABLES.values() for c in t.columns if c.type == "currency"}
    assert named == typed
    assert ("instruments", "currency_code") in typed
    assert ("activity", "total_currency") in typed
    assert ("positions", "price_currency_major") in typed
    assert all(TABLES[t].column(c).duckdb_type == "VARCHAR" for t, c in typed)


@QUICK
@given(st.one_of(codes, not_codes))
def test_a_transaction_loads_any_currency_text_and_reports_an_odd_one(currency):
    result = normalise_transactions([records.transaction(currency=currency)], account_id=1)
    assert result.frames["transactions"]["currency"].tolist() == [currency]
    assert result.problems == []
    odd = odd_currencies(result.frames)
    assert len(odd) == (0 if CODE.fullmatch(currency) else 1)
    assert all(line.isprintable() for line in odd)


AT = "2024-01-01T00:00:00Z"


def _dividend(**fields):
    return normalise_dividends([records.dividend(**fields)], account_id=1)


def _order(order=None, fill=None):
    item = {"order": records.order(**(order or {})), "fill": fill}
    return normalise_orders([item], account_id=1)


def _position(**fields):
    return normalise_positions([records.position(**fields)], account_id=1, snapshot_at=AT)


# table.column -> the normaliser's result for one record carrying ``c`` in that field
SOURCES = {
    "dividends.currency": lambda c: _dividend(currency=c),
    "dividends.ticker_currency": lambda c: _dividend(tickerCurrency=c),
    "dividends.instrument_currency": lambda c: _dividend(instrument=records.listed("A_EQ", c)),
    "transactions.currency": lambda c: normalise_transactions(
        [records.transaction(currency=c)], account_id=1
    ),
    "orders.currency": lambda c: _order({"currency": c}),
    "orders.instrument_currency": lambda c: _order({"instrument": records.listed("A_EQ", c)}),
    "fills.wallet_impact_currency": lambda c: _order(
        fill=records.fill(walletImpact={"currency": c})
    ),
    "fill_taxes.currency": lambda c: _order(
        fill=records.fill(walletImpact={"taxes": [records.tax(currency=c)]})
    ),
    "positions.instrument_currency": lambda c: _position(instrument=records.listed("A_EQ", c)),
    "positions.wallet_impact_currency": lambda c: _position(walletImpact={"currency": c}),
    "instruments.currency_code": lambda c: normalise_instruments(
        [records.instrument(currencyCode=c)], seen_at=AT
    ),
    "account_summaries.currency": lambda c: normalise_account_summary(
        records.account_summary(currency=c), snapshot_at=AT
    ),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_json_currency_field_keeps_what_was_written(source):
    name, column = source.split(".")
    for currency in ("GBX", "USD", *HOSTILE):
        result = SOURCES[source](currency)
        assert result.frames[name][column].tolist() == [currency], currency
        assert result.problems == []
        odd = odd_currencies(result.frames)
        assert bool(odd) != bool(CODE.fullmatch(currency)), currency
        assert all(f"{name}.{column}" in line and line.isprintable() for line in odd)
        assert len(odd) <= 1


def test_pence_and_missing_currencies_still_load():
    items = [
        records.position(instrument=records.listed("VODl_EQ", PENCE)),
        records.position(instrument={"ticker": "ODD_EQ"}),
    ]
    result = normalise_positions(items, account_id=1, snapshot_at="2024-01-01T00:00:00Z")
    assert result.problems == []
    assert result.frames["positions"]["price_currency_major"].tolist() == ["GBP", None]


@QUICK
@given(st.one_of(codes, not_codes))
def test_the_columnar_path_loads_any_currency_text(currency):
    body = encode({"items": [records.transaction(currency=currency)]})
    normalised, _ = normalise_table_pages([body], TRANSACTIONS, {"account_id": 1})
    assert normalised.frames["transactions"]["currency"].tolist() == [currency]


def test_the_columnar_path_keeps_nested_currencies():
    body = encode({"items": [records.dividend(instrument=records.listed("A_EQ", "usd"))]})
    normalised, _ = normalise_table_pages([body], DIVIDENDS, {"account_id": 1})
    assert normalised.frames["dividends"]["instrument_currency"].tolist() == ["usd"]


def _report(currency: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Action", "Time", "ID", "Total", "Currency (Total)"])
    writer.writerow(["Deposit", "2024-01-01 00:00:00", "D1", "5", currency])
    return out.getvalue().encode()


@QUICK
@given(
    st.one_of(
        codes,
        not_codes.filter(lambda s: s.strip() not in ("", PENCE) and not {"\r", "\0"} & set(s)),
    )
)
def test_a_report_row_loads_with_its_currency_as_written(currency):
    frame = read_report(_report(currency), account_id=1).frame
    assert frame["total_currency"].tolist() == [currency.strip()]
