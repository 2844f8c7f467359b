"""The identity of a CSV event: every row of every export lands once, however files overlap.

Within one file every row is an event (an order filled in parts is one row per fill, all
with the order's ID); across files the same event counts once, in the largest number any
one file lists it. Exports cover time ranges, so files here are time ranges of one export.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transforms.test_reports import write
from transforms.catalogue import LOAD_METADATA, TABLES
from transforms.frames import to_arrow
from transforms.reports import normalise_reports, read_report
from warehouse import Warehouse
from warehouse.merge import Load

ACCOUNT = 7
AT = datetime(2025, 1, 1, tzinfo=UTC)
COLUMNS = [c for c in TABLES["activity"].column_names if c not in LOAD_METADATA]


def test_an_order_filled_in_two_parts_keeps_both_fills():
    fills = [
        {"Action": "Market buy", "Time": "2024-05-02 14:30:01", "ISIN": "US0000000001",
         "Ticker": "EXA", "ID": "EOF555", "No. of shares": "3", "Price / share": "10.00",
         "Total": "27.61"},
        {"Action": "Market buy", "Time": "2024-05-02 14:30:01", "ISIN": "US0000000001",
         "Ticker": "EXA", "ID": "EOF555", "No. of shares": "2", "Price / share": "10.01",
         "Total": "18.43"},
        # a third fill alike the first in everything: a fill of its own too
        {"Action": "Market buy", "Time": "2024-05-02 14:30:01", "ISIN": "US0000000001",
         "Ticker": "EXA", "ID": "EOF555", "No. of shares": "3", "Price / share": "10.00",
         "Total": "27.61"},
    ]  # fmt: skip
    frame = read_report(write(fills), account_id=ACCOUNT).frame
    assert len(frame) == 3 and frame["id"].is_unique
    assert set(frame["report_id"]) == {"EOF555"} and set(frame["order_id"]) == {555}
    assert sorted(map(str, frame["shares"])) == ["2", "3", "3"]
    # the same file again, or a later export holding only the second fill: nothing new
    again = normalise_reports(
        [("a.csv", write(fills)), ("b.csv", write(fills[1:2]))], account_id=ACCOUNT
    ).frames["activity"]
    assert sorted(again["id"]) == sorted(frame["id"])


TIMES = [f"2024-0{d}-0{d} 1{h}:00:0{s}" for d in (1, 2, 3) for h in (0, 5) for s in (0, 1)]


@st.composite
def rows(draw):
    """Rows of one export, oldest first, drawn from few values so that they repeat."""
    drawn = []
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(("buy", "dividend", "deposit")))
        row = {"Time": draw(st.sampled_from(TIMES)), "Total": draw(st.sampled_from(("1", "2.5")))}
        if kind == "buy":
            row |= {"Action": "Market buy", "ISIN": "US0000000001", "Ticker": "EXA",
                    "ID": draw(st.sampled_from(("EOF1", "EOF2"))),
                    "No. of shares": draw(st.sampled_from(("1", "0.5")))}  # fmt: skip
        elif kind == "dividend":
            row |= {"Action": "Dividend (Ordinary)", "ISIN": "GB0000000002", "Ticker": "EXL"}
        else:
            row |= {"Action": "Deposit", "ID": draw(st.sampled_from(("d-1", "d-2")))}
        drawn.append(row)
    return sorted(drawn, key=lambda r: r["Time"])


@st.composite
def exports(draw):
    """One export, its files (overlapping time ranges covering it, each in a layout of its
    own), and the order in which they are imported, some of them again."""
    whole = draw(rows())
    times = sorted({r["Time"] for r in whole})
    starts = sorted({0, *draw(st.lists(st.integers(0, len(times) - 1), max_size=3))})
    files = []
    for j, start in enumerate(starts):
        least = starts[j + 1] - 1 if j + 1 < len(starts) else len(times) - 1
        end = draw(st.integers(least, len(times) - 1))
        part = [r for r in whole if times[start] <= r["Time"] <= times[end]]
        layout = {
            "time": draw(st.sampled_from(("Time", "Time (UTC)"))),
            "old": draw(st.booleans()),
            "bom": draw(st.booleans()),
            "crlf": draw(st.booleans()),
            "seed": draw(st.none() | st.integers(0, 9)),
        }
        files.append((f"f{j}.csv", write(part, **layout)))
    order = draw(st.permutations(files))
    repeated = draw(st.lists(st.sampled_from(files), max_size=2))
    return whole, [*order, *repeated], draw(st.booleans())


_ACCOUNTS = iter(range(1, 10**6))


def _activity(wh: Warehouse, files_batches: list[list[tuple[str, bytes]]]) -> list[tuple]:
    """The activity rows of a new account after importing each batch of files in turn."""
    account = next(_ACCOUNTS)
    for n, batch in enumerate(files_batches):
        table = to_arrow(
            normalise_reports(batch, account_id=account).frames["activity"], "activity"
        )
        wh.merge_resource(Load("reports", account, f"r{n}", AT), {"activity": table}, None)
    cols = ", ".join(f'"{c}"' for c in COLUMNS if c != "account_id")
    return wh.connection.execute(
        f'SELECT {cols} FROM "activity" WHERE "account_id" = ? ORDER BY ALL', [account]
    ).fetchall()


@pytest.fixture(scope="module")
def wh():
    with tempfile.TemporaryDirectory() as tmp, Warehouse.open(Path(tmp), views=False) as opened:
        yield opened


@pytest.mark.slow  # Hypothesis over whole report imports
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=exports())
def test_overlapping_files_in_any_order_and_any_number_give_the_whole_export(wh, drawn):
    whole, files, one_batch = drawn
    expected = _activity(wh, [[("whole.csv", write(whole))]])
    assert len(expected) == len(whole)  # no row of the export is lost
    batches = [files] if one_batch else [[f] for f in files]
    assert _activity(wh, batches) == expected


def test_one_event_in_two_layouts_with_other_columns_counts_once():
    sell = {"Action": "Market sell", "Time": "2021-03-02 14:30:05", "ISIN": "US0000000001",
            "Ticker": "EXA", "Name": "Example", "ID": "EOF9", "No. of shares": "0.5",
            "Price / share": "200.0", "Total": "91.00", "Result": "12.5",
            "Currency conversion fee": "0.14"}  # fmt: skip
    rich = write([sell], old=True)  # 2020: Result (EUR), Total (EUR), Time
    sparse = write([sell], time="Time (UTC)", drop=("Result", "Name", "Currency conversion fee"))
    both = normalise_reports([("a.csv", rich), ("b.csv", sparse)], account_id=ACCOUNT)
    assert len(both.frames["activity"]) == 1
