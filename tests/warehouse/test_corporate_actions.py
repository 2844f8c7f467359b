"""corporate_actions: the two rows of a split paired in either order and across files."""

from __future__ import annotations

from decimal import Decimal as D

from tests.transforms.test_reports import write
from tests.warehouse.conftest import T1
from transforms.frames import to_arrow
from transforms.reports import normalise_reports
from warehouse.merge import Load


def _half(side: str, time: str, shares: str, isin: str = "US0000000009") -> dict:
    return {"Action": f"Stock split {side}", "Time": time, "ISIN": isin, "Ticker": "SPL",
            "No. of shares": shares, "Price / share": "0", "Total": "0"}  # fmt: skip


def _import(wh, *files: list[dict]) -> None:
    """Each list of rows as a file of its own, imported one after another."""
    for n, rows in enumerate(files):
        frame = normalise_reports([(f"f{n}.csv", write(rows))], account_id=1).frames["activity"]
        wh.merge_resource(
            Load("reports", 1, f"r{n}", T1), {"activity": to_arrow(frame, "activity")}, None
        )


def _pairs(wh):
    return wh.connection.execute(
        'SELECT "isin", "shares_before", "shares_after", "ratio" FROM "corporate_actions" '
        'ORDER BY "close_time"'
    ).fetchall()


def _unpaired(wh) -> int:
    return wh.connection.execute('SELECT count(*) FROM "corporate_actions_unpaired"').fetchone()[0]


def test_a_split_pairs_in_either_order(wh):
    _import(
        wh,
        [_half("close", "2024-06-10 04:00:00", "2.5"), _half("open", "2024-06-10 04:00:01", "10")],
        [
            _half("open", "2024-07-01 05:00:00", "3", "US0000000010"),
            _half("close", "2024-07-01 05:00:00", "1", "US0000000010"),
        ],
    )
    assert _pairs(wh) == [
        ("US0000000009", D("2.5"), D("10"), D("4")),
        ("US0000000010", D("1"), D("3"), D("3")),
    ]
    assert (
        wh.connection.execute('SELECT count(*) FROM "corporate_actions_unpaired"').fetchone()[0]
        == 0
    )


def test_halves_in_two_files_across_midnight_pair_and_a_missing_half_shows(wh):
    _import(
        wh,
        [_half("close", "2024-12-31 23:59:59.700", "3")],
        [
            _half("open", "2025-01-01 00:00:00.300", "1"),  # a 1-for-3 reverse split
            _half("close", "2025-03-03 10:00:00", "4", "US0000000011"),
        ],
    )
    assert _pairs(wh) == [("US0000000009", D("3"), D("1"), D("0.3333333333"))]
    unpaired = wh.connection.execute(
        'SELECT "action", "isin" FROM "corporate_actions_unpaired"'
    ).fetchall()
    assert unpaired == [("Stock split close", "US0000000011")]


def test_halves_more_than_a_second_apart_do_not_pair(wh):
    _import(
        wh, [_half("close", "2024-06-10 04:00:00", "2"), _half("open", "2024-06-10 04:00:02", "4")]
    )
    assert _pairs(wh) == []
    assert (
        wh.connection.execute('SELECT count(*) FROM "corporate_actions_unpaired"').fetchone()[0]
        == 2
    )
