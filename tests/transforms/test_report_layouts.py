"""Every report layout seen since 2019, in files written by hand (real column sets, made-up
values): every row imported, every amount exact, every time a UTC instant."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest

from transforms.reports import TABLE, header_targets, normalise_reports, read_report

FILES = Path(__file__).with_name("reports")


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


# file -> the rows expected, in file order: column -> value (other columns unchecked)
EXPECTED = {
    "2020_total_in_name.csv": [
        {"action": "Deposit", "time": utc("2020-04-03T15:32:54Z"), "total": D("250"),
         "total_currency": "EUR", "charge_amount": D("250"), "charge_amount_currency": "EUR",
         "report_id": "aaaaaaaa-0000-4000-8000-000000000001"},
        {"action": "Market buy", "shares": D("12"), "price_per_share": D("1509.6"),
         "price_per_share_currency": "GBX", "exchange_rate": D("88.25499"),
         "stamp_duty_reserve_tax": D("1.02"), "stamp_duty_reserve_tax_currency": "EUR",
         "name": "Example Shell, plc", "order_id": 100000001},
        {"action": "Dividend (Ordinary)", "exchange_rate": None, "withholding_tax": D("0.03"),
         "withholding_tax_currency": "USD", "total": D("0.15"), "report_id": None},
        {"action": "Market sell", "result": D("4.91"), "result_currency": "EUR",
         "time": utc("2020-06-01T14:45:37Z")},
    ],
    "2020_fees_chf.csv": [
        {"action": "Deposit", "deposit_fee": D("1.2"), "deposit_fee_currency": "CHF",
         "total_currency": "CHF"},
        {"action": "Limit sell", "transaction_fee": D("0"), "finra_fee": D("0.01"),
         "finra_fee_currency": "CHF", "currency_conversion_fee": D("0.15"),
         "currency_conversion_fee_currency": "CHF", "result": D("2.04")},
        {"action": "Stop sell", "currency_conversion_fee": None, "result": D("24.65")},
    ],
    "2021_french_tax.csv": [
        {"action": "Dividend (Ordinary)", "shares": D("0.081498"), "total": D("0.03")},
        # no currency for the French tax anywhere: the row's Total currency
        {"action": "Market buy", "french_transaction_tax": D("0.03"),
         "french_transaction_tax_currency": "EUR", "currency_conversion_fee": None},
        {"action": "Market sell", "currency_conversion_fee": D("0.01"),
         "french_transaction_tax": None, "french_transaction_tax_currency": None},
    ],
    "2021_minimal_partial_fills.csv": [
        {"report_id": "EOF400000008", "order_id": 400000008, "shares": D("0.139152"),
         "total": D("5.33")},
        {"report_id": "EOF400000008", "order_id": 400000008, "shares": D("0.060848"),
         "total": D("2.33")},
        {"report_id": "EOF400000008", "shares": D("0.139152"), "total": D("5.33")},
    ],
    "2024_currency_columns.csv": [
        {"action": "Deposit", "total": D("100"), "total_currency": "GBP"},
        {"action": "Market sell", "result": D("55.2"), "result_currency": "GBP",
         "transaction_fee": D("0.02"), "transaction_fee_currency": "GBP",
         "finra_fee": D("0.01"), "finra_fee_currency": "GBP",
         "currency_conversion_fee": D("1.63"), "price_per_share": D("690.12")},
        {"action": "Currency conversion", "currency_conversion_from_amount": D("100"),
         "currency_conversion_from_amount_currency": "GBP",
         "currency_conversion_to_amount": D("126.52"),
         "currency_conversion_to_amount_currency": "USD", "currency_conversion_fee": D("0.15")},
        {"action": "Interest on cash", "total": D("0.0412"), "time": utc("2024-02-07T00:10:11Z")},
        {"action": "Card debit", "total": D("-12.5"), "merchant_name": "Example Coffee",
         "merchant_category": "RESTAURANTS"},
        {"action": "Stock split open", "shares": D("20")},
        {"action": "Stock split close", "shares": D("2")},
    ],
    "2025_time_utc.csv": [
        {"action": "Dividend (Dividend)", "time": utc("2025-02-03T08:11:12.345Z"),
         "withholding_tax": D("0"), "total": D("2.42"), "extra": {"Gross Total": "2.42"}},
        {"action": "Market buy", "time": utc("2025-02-04T15:30:00Z"), "shares": D("0.0015"),
         "extra": None},
    ],
    "2022_resaved_semicolon.csv": [
        {"action": "Market buy", "name": "Example; Amazon", "shares": D("0.01856221"),
         "price_per_share": D("2860.99"), "exchange_rate": D("1.06382"), "total": D("49.99")},
        {"action": "Deposit", "total": D("100"), "total_currency": "EUR"},
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_layout_reads_every_row_exactly(name):
    body = (FILES / name).read_bytes()
    parsed = read_report(body, account_id=3)
    frame = parsed.frame
    data_lines = len([line for line in body.splitlines()[1:] if line.strip()])
    assert len(frame) == len(EXPECTED[name]) == data_lines
    assert frame["id"].is_unique
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    for i, expected in enumerate(EXPECTED[name]):
        row = frame.iloc[i]
        for column, value in expected.items():
            got = row[column]
            if column == "extra":
                got = None if got is None else json.loads(got)
            if isinstance(value, D):
                assert type(got) is D and got == value, (name, i, column, got)
            elif value is None:
                assert got is None or pd.isna(got), (name, i, column, got)
            else:
                assert got == value, (name, i, column, got)


def test_unknown_columns_are_kept_and_reported_once_per_file():
    body = (FILES / "2025_time_utc.csv").read_bytes()
    assert read_report(body, account_id=3).unknown_columns == ["Gross Total"]
    both = normalise_reports([("a.csv", body), ("b.csv", body)], account_id=3)
    told = [n for n in both.notices if "Gross Total" in n]
    assert told == [
        f"{f}: column 'Gross Total' is not one the parser knows: its values are kept in extra"
        for f in ("a.csv", "b.csv")
    ]


def test_a_fee_without_a_currency_is_told_once_per_column():
    parsed = read_report((FILES / "2024_currency_columns.csv").read_bytes(), account_id=3)
    told = [n for n in parsed.notices if "names no currency" in n]
    assert told == [
        "column 'Transaction fee' names no currency: taken as each row's Total currency",
        "column 'Finra fee' names no currency: taken as each row's Total currency",
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_amount_and_every_time_of_every_layout_is_exact(name):
    """Each cell read again on its own, as plainly as possible, equals what was loaded."""
    body = (FILES / name).read_bytes()
    text = body.decode("utf-8-sig")
    delimiter = ";" if text.split("\n", 1)[0].count(";") > 1 else ","
    header, *rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    targets, _ = header_targets(header)
    frame = read_report(body, account_id=3).frame
    checked = 0
    for i, row in enumerate(r for r in rows if r):
        for (column, _), cell in zip(targets, row, strict=True):
            cell = cell.strip()
            if not column or not cell or cell == "Not available":
                continue
            got = frame.iloc[i][column]
            if column == "time":
                moment = pd.Timestamp(cell.replace("T", " "))
                expected = moment.tz_localize("UTC") if moment.tz is None else moment
                assert got == expected.tz_convert("UTC"), (name, i, cell)
            elif TABLE.column(column).type == "decimal":
                expected = D(cell.replace(",", ".") if delimiter == ";" else cell)
                assert type(got) is D and got == expected, (name, i, column, cell)
            else:
                continue
            checked += 1
    assert checked >= len(rows) * 2
