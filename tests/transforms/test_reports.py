"""CSV reports: every header variant the format rules allow, exact values, and bad files."""

from __future__ import annotations

import csv
import io
import itertools
import random
from decimal import Decimal

import pandas as pd
import pytest

from transforms.catalogue import table
from transforms.frames import frame_columns
from transforms.reports import ReportFileError, normalise_reports, read_report

D = Decimal
# Canonical rows (made up): column -> (text as written, value expected), currencies apart.
ROWS = [
    {"Action": "Market buy", "Time": "2024-01-02 10:11:12", "ISIN": "US0000000001",
     "Ticker": "EXA", "Name": "Example, Inc", "ID": "EOF30000000007", "No. of shares": "1.5E-3",
     "Price / share": "190.10", "Currency (Price / share)": "USD",
     "Exchange rate": "Not available", "Total": "0.29", "Currency conversion fee": "0.01"},
    {"Action": "Dividend (Dividends paid by us corporations)", "Time": "2024-02-03 07:00:00",
     "ISIN": "US0000000001", "Ticker": "EXA", "Name": "Example, Inc", "No. of shares": "2",
     "Price / share": "0.24", "Currency (Price / share)": "USD", "Exchange rate": "0.92",
     "Total": "0.41", "Withholding tax": "0.07", "Currency (Withholding tax)": "USD"},
    {"Action": "Interest on cash", "Time": "2024-02-04 00:00:01.250", "ID": "ref-int-1",
     "Total": "0.0300000000"},
    {"Action": "Market buy", "Time": "2024-03-01 09:30:00", "ISIN": "GB0000000002",
     "Ticker": "EXL", "Name": "Example plc", "ID": "EOF30000000014", "No. of shares": "10",
     "Price / share": "420", "Currency (Price / share)": "GBX", "Exchange rate": "0.85",
     "Total": "49.53", "Stamp duty reserve tax": "0.21", "Currency conversion fee": "0.07"},
    {"Action": "Limit sell", "Time": "2024-03-05 15:00:00", "ISIN": "US0000000001",
     "Ticker": "EXA", "Name": "Example, Inc", "ID": "EOF30000000021", "No. of shares": "0.5",
     "Price / share": "200", "Currency (Price / share)": "USD", "Exchange rate": "0.91",
     "Result": "1.25E+1", "Total": "91.00"},
    {"Action": "Currency conversion", "Time": "2024-03-06 12:00:00", "ID": "CC-1",
     "Currency conversion from amount": "100", "Currency (Currency conversion from amount)": "EUR",
     "Currency conversion to amount": "108.5", "Currency (Currency conversion to amount)": "USD",
     "Currency conversion fee": "0.15"},
    {"Action": "Robo-advisor rebalance", "Time": "2024-03-07 12:00:00", "ID": "RB-1",
     "Total": "-5", "Notes": "new kind"},
    # the same dividend twice: both rows stay, told apart by their occurrence number
    {"Action": "Dividend (Ordinary)", "Time": "2024-03-08 07:00:00", "Ticker": "EXL",
     "ISIN": "GB0000000002", "No. of shares": "3", "Total": "0.30"},
    {"Action": "Dividend (Ordinary)", "Time": "2024-03-08 07:00:00", "Ticker": "EXL",
     "ISIN": "GB0000000002", "No. of shares": "3", "Total": "0.30"},
]  # fmt: skip
# Amounts in the account currency: older files put it in the column name.
ACCOUNT_MONEY = ("Total", "Result", "Stamp duty reserve tax", "Currency conversion fee")


def write(rows, *, time="Time (UTC)", old=False, bom=True, crlf=True, seed=None, drop=()):
    """A report file of ``rows`` in one spelling of the format."""
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k not in drop}
        row[time] = row.pop("Time")
        for name in ACCOUNT_MONEY:
            if name in row:
                row[f"{name} (EUR)" if old else name] = row.pop(name)
                if not old:
                    row[f"Currency ({name})"] = "EUR"
        out.append(row)
    header = list(dict.fromkeys(k for row in out for k in row))
    if seed is not None:
        random.Random(seed).shuffle(header)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows([[row.get(c, "") for c in header] for row in out])
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode()


VARIANTS = list(
    itertools.product(
        ("Time", "Time (UTC)"), (False, True), (False, True), (False, True), (None, 7)
    )
)


@pytest.mark.parametrize(("time", "old", "bom", "crlf", "seed"), VARIANTS)
def test_every_header_variant_reads_the_same_rows(time, old, bom, crlf, seed):
    body = write(ROWS, time=time, old=old, bom=bom, crlf=crlf, seed=seed)
    parsed = read_report(body, account_id=7)
    frame = parsed.frame
    assert list(frame.columns) == frame_columns(table("activity"))
    assert parsed.unknown_columns == []
    baseline = read_report(write(ROWS), account_id=7).frame
    pd.testing.assert_frame_equal(frame, baseline)


def test_values_are_exact_and_times_utc():
    frame = read_report(write(ROWS), account_id=7).frame.set_index("report_id")
    buy = frame.loc["EOF30000000007"]
    assert buy["shares"] == D("0.0015") and type(buy["shares"]) is Decimal
    assert buy["price_per_share"] == D("190.10") and buy["price_per_share_currency"] == "USD"
    assert buy["exchange_rate"] is None  # Not available
    assert buy["total"] == D("0.29") and buy["total_currency"] == "EUR"
    assert buy["currency_conversion_fee"] == D("0.01")
    assert buy["order_id"] == 30000000007 and not buy["id_derived"]
    assert buy["time"] == pd.Timestamp("2024-01-02T10:11:12Z")
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    interest = frame.loc["ref-int-1"]
    assert interest["total"] == D("0.03") and interest["time"].microsecond == 250000
    sell = frame.loc["EOF30000000021"]
    assert sell["result"] == D("12.5") and sell["result_currency"] == "EUR"
    lse = frame.loc["EOF30000000014"]
    assert lse["stamp_duty_reserve_tax"] == D("0.21") and lse["price_per_share_currency"] == "GBX"
    conversion = frame.loc["CC-1"]
    assert conversion["currency_conversion_from_amount_currency"] == "EUR"
    assert conversion["currency_conversion_to_amount"] == D("108.5")
    dividend = frame[frame["action"].str.startswith("Dividend (Div")].iloc[0]
    assert dividend["withholding_tax"] == D("0.07")
    assert dividend["withholding_tax_currency"] == "USD" and dividend["id_derived"]


def test_rows_without_id_get_a_stable_key_whatever_the_columns():
    full = read_report(write(ROWS), account_id=1).frame
    sparse = read_report(
        write(ROWS[1:2] + ROWS[7:], drop=("Name", "Exchange rate")), account_id=1
    ).frame
    derived = sorted(full.loc[full["id_derived"], "id"])
    assert len(derived) == 3 and len(set(derived)) == 3
    assert sorted(sparse["id"]) == derived
    assert {i.rsplit(":", 1)[1] for i in derived} == {"1", "2"}


def test_unknown_actions_load_and_are_told_unknown_columns_are_reported():
    rows = [dict(ROWS[2], ID="ref-int-2", **{"Loyalty points": "12"})]
    parsed = read_report(write(ROWS[:7] + rows), account_id=1)
    assert "Robo-advisor rebalance" in set(parsed.frame["action"])
    assert parsed.notices == ["unknown Action 'Robo-advisor rebalance' (1 rows): loaded as it is"]
    assert parsed.unknown_columns == ["Loyalty points"]
    result = normalise_reports([("a.csv", write(ROWS)), ("b.csv", write(ROWS))], account_id=1)
    assert len(result.frames["activity"]) == len(ROWS)
    assert result.notices[0].startswith("a.csv: unknown Action")


def test_a_report_with_only_a_header_is_empty_not_an_error():
    frame = read_report(
        b"\xef\xbb\xbfAction,Time (UTC),ID,Total,Currency (Total)\r\n", account_id=1
    )
    assert frame.frame.empty and list(frame.frame.columns) == frame_columns(table("activity"))


GOOD = write(ROWS)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"  \r\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("Action,Time\r\nDeposit,2024-01-01".encode("utf-16"), "UTF-16"),
        (b"<html><body>Service unavailable</body></html>", "not a Trading 212 report"),
        (b'{"items": []}', "not a Trading 212 report"),
        (b"date;amount\n2024-01-01;5\n", "not a Trading 212 report"),
        ("Action,Time,Name\nDeposit,2024-01-01 00:00:00,Café\n".encode("latin-1"), "not UTF-8"),
        (GOOD[: GOOD.index(b"Example, Inc") + 5], "truncated"),
        (GOOD[: len(GOOD) // 2], "line"),
        (b"Action,Time,Total\nDeposit,yesterday,5\n", "not a time"),
        (b"Action,Time,Total\nDeposit,2024-01-01 00:00:00,five\n", "not a number"),
        (b"Action,Time,Time (UTC)\nDeposit,2024-01-01,2024-01-01\n", "twice"),
        (b"Action,Time,Total\n,2024-01-01 00:00:00,5\n", "no Action"),
        (b"Action;Time;Total,Currency (Total)\nDeposit;2024-01-01 00:00:00;5,EUR\n", "mixes"),
        (b"Action,Time;Total;Notes\nDeposit,2024-01-01 00:00:00;5;x\n", "mixes"),
        (b"Action,Time,Total,Note,Note\nDeposit,2024-01-01 00:00:00,5,a,b\n", "Note twice"),
    ],
)
def test_bad_files_raise_one_clear_line(body, message):
    with pytest.raises(ReportFileError) as err:
        read_report(body, account_id=1)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_file_cut_anywhere_in_its_last_line_is_refused_or_whole():
    body = write(ROWS[:3], bom=False)
    last_line_start = body.rstrip(b"\r\n").rindex(b"\n") + 1
    whole = read_report(body, account_id=1).frame
    for cut in range(last_line_start + 1, len(body)):
        try:
            frame = read_report(body[:cut], account_id=1).frame
        except ReportFileError:
            continue
        pd.testing.assert_frame_equal(frame, whole)


def test_one_bad_file_refuses_the_batch_naming_it():
    with pytest.raises(ReportFileError, match=r"^broken\.csv: "):
        normalise_reports([("good.csv", GOOD), ("broken.csv", GOOD[:-40])], account_id=1)
