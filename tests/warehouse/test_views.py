"""Analysis views on small hand-made data, with exact decimals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from tests.warehouse.conftest import T0, T1, dividend, position, rows_table, summary
from warehouse import Warehouse, views
from warehouse.merge import Load
from warehouse.views import ALL_VIEWS


def _load(wh, resource, account, table, rows):
    data = {table: rows_table(table, rows)}
    wh.merge_resource(Load(resource, account, "r0", T0), data, None)


def test_positions_latest_takes_each_accounts_newest_snapshot(wh):
    _load(wh, "positions", 1, "positions", [position("A", "1", "5"), position("B", "2", "6")])
    _load(wh, "positions", 1, "positions", [position("A", "3", "7", at=T1)])
    _load(wh, "positions", 2, "positions", [position("C", "4", "8", account=2)])
    rows = wh.connection.sql(
        "SELECT account_id, snapshot_at, ticker, quantity FROM positions_latest ORDER BY ALL"
    ).fetchall()
    assert rows == [(1, T1, "A", D("3")), (2, T0, "C", D("4"))]


def test_dividends_monthly_sums_exactly_per_month_and_currency(wh):
    jan15 = datetime(2024, 1, 15, 12, tzinfo=UTC)
    jan31_late = datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC)
    feb1 = datetime(2024, 2, 1, 0, 0, tzinfo=UTC)
    _load(
        wh,
        "dividends",
        1,
        "dividends",
        [
            dividend("a", "1.1000000001", paid_on=jan15),
            dividend("b", "2.2", paid_on=jan31_late),
            dividend("c", "0.0000000001", paid_on=feb1),
            dividend("d", "5", paid_on=feb1, cur="USD"),
        ],
    )
    _load(wh, "dividends", 2, "dividends", [dividend("a", "9", account=2, paid_on=jan15)])
    rows = wh.connection.sql("SELECT * FROM dividends_monthly ORDER BY ALL").fetchall()
    # without report rows there is no withholding tax, so gross equals net
    assert rows == [
        (1, date(2024, 1, 1), "GBP", D("3.3000000001"), D("3.3000000001"), 2, D(0), 0),
        (1, date(2024, 2, 1), "GBP", D("0.0000000001"), D("0.0000000001"), 1, D(0), 0),
        (1, date(2024, 2, 1), "USD", D("5"), D("5"), 1, D(0), 0),
        (2, date(2024, 1, 1), "GBP", D("9"), D("9"), 1, D(0), 0),
    ]


def test_dividend_income_by_ticker_with_yield_on_cost(wh):
    now = datetime.now(UTC)
    _load(
        wh,
        "dividends",
        1,
        "dividends",
        [
            dividend("a", "1.5", ticker="A", paid_on=now - timedelta(days=30)),
            dividend("b", "10", ticker="A", paid_on=now - timedelta(days=400)),
            dividend("c", "2", ticker="GONE", paid_on=now - timedelta(days=10)),
            dividend("d", "4", ticker="OLD", paid_on=now - timedelta(days=500)),
        ],
    )
    _load(
        wh,
        "positions",
        1,
        "positions",
        [
            position("A", "1", "5"),
            position("OLD", "1", "20"),
        ],
    )
    _load(
        wh,
        "positions",
        1,
        "positions",
        [position("A", "1", "7", at=T1), position("OLD", "1", "20", at=T1)],
    )
    rows = wh.connection.sql(
        "SELECT ticker, currency, income_ttm, income_all_time, cost_basis, yield_on_cost "
        "FROM dividend_income_by_ticker ORDER BY ticker"
    ).fetchall()
    assert rows == [
        ("A", "GBP", D("1.5"), D("11.5"), D("7"), D("0.2142857142")),
        ("GONE", "GBP", D("2"), D("2"), None, None),
        ("OLD", "GBP", D("0"), D("4"), D("20"), D("0")),
    ]


def test_portfolio_value_daily_takes_the_last_snapshot_of_each_day(wh):
    morning = datetime(2024, 3, 1, 8, tzinfo=UTC)
    evening = datetime(2024, 3, 1, 20, tzinfo=UTC)
    next_day = datetime(2024, 3, 2, 8, tzinfo=UTC)
    _load(
        wh,
        "summary",
        1,
        "account_summaries",
        [
            summary(morning, "100", cash="10"),
            summary(evening, "101.0000000001", cash="11.5", invested="89.5000000001", cost="80"),
            summary(next_day, "102", cash="2"),
        ],
    )
    cash_pies = summary(next_day, "50", account=2, cash="1")
    cash_pies["cash_in_pies"] = D("0.25")
    cash_pies["cash_reserved_for_orders"] = D("0.0000000005")
    _load(wh, "summary", 2, "account_summaries", [cash_pies])
    rows = wh.connection.sql(
        'SELECT account_id, "date", total_value, investments_current_value, '
        "investments_total_cost, cash FROM portfolio_value_daily ORDER BY ALL"
    ).fetchall()
    assert rows == [
        (1, date(2024, 3, 1), D("101.0000000001"), D("89.5000000001"), D("80"), D("11.5")),
        (1, date(2024, 3, 2), D("102"), D("0"), D("0"), D("2")),
        (2, date(2024, 3, 2), D("50"), D("0"), D("0"), D("1.2500000005")),
    ]


def test_views_keep_money_as_decimal(wh):
    for name in ALL_VIEWS:
        types = wh.connection.sql(f'DESCRIBE "{name}"').fetchall()
        assert types, name
        for column, type_, *_ in types:
            assert type_ not in ("DOUBLE", "FLOAT"), (name, column, type_)


def test_views_can_be_left_to_a_later_create_views(new_process, tmp_path):
    with Warehouse.open(tmp_path / "data", views=False) as wh:
        assert _view_names(wh) == set()
        wh.create_views()
        assert _view_names(wh) == set(ALL_VIEWS)
        assert wh.connection.sql("SELECT count(*) FROM positions_latest").fetchall() == [(0,)]
    with Warehouse.open(tmp_path / "data") as wh:
        assert _view_names(wh) == set(ALL_VIEWS)


def test_views_are_created_again_only_when_their_definitions_or_a_view_changed(
    new_process, tmp_path, monkeypatch
):
    created = []
    real = views.create_views
    monkeypatch.setattr(views, "create_views", lambda con: created.append(1) or real(con))
    with Warehouse.open(tmp_path / "data") as wh:
        assert _view_names(wh) == set(ALL_VIEWS) and len(created) == 1
        wh.create_views()
    with Warehouse.open(tmp_path / "data") as wh:
        assert _view_names(wh) == set(ALL_VIEWS)
        assert len(created) == 1  # the same definitions, every view there: none replaced
        wh.connection.execute('DROP VIEW "dividends_monthly"')
        wh.create_views()
        assert _view_names(wh) == set(ALL_VIEWS) and len(created) == 2
        # replaced by hand: its description is gone with it
        wh.connection.execute('CREATE OR REPLACE VIEW "positions_latest" AS SELECT 1 AS x')
        wh.create_views()
        assert len(created) == 3
        columns = wh.connection.sql("DESCRIBE positions_latest").fetchall()
        assert "ticker" in {c[0] for c in columns}
    # a new release's definitions replace the views
    changed = dict(ALL_VIEWS)
    name = next(iter(changed))
    changed[name] = changed[name].replace("\n", "\n-- changed\n", 1)
    monkeypatch.setattr(views, "ALL_VIEWS", changed)
    with Warehouse.open(tmp_path / "data") as wh:
        assert len(created) == 4
    with Warehouse.open(tmp_path / "data") as wh:
        assert len(created) == 4


def _view_names(wh) -> set[str]:
    rows = wh.connection.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    return {name for (name,) in rows}


def test_cash_transactions_take_the_report_kind_else_estimate_interest(wh):
    def tx(ref, amount, at):
        return {"account_id": 1, "reference": ref, "type": "DEPOSIT", "date_time": at,
                "amount": D(amount), "currency": "EUR"}  # fmt: skip

    at = datetime(2024, 5, 1, 0, 10, 11, tzinfo=UTC)
    transactions = [
        tx("small", "0.42", at),
        tx("big", "500", at + timedelta(days=1)),
        tx("by-id", "7.5", at + timedelta(days=2)),
        tx("by-time", "0.33", at + timedelta(days=3, milliseconds=400)),
    ]
    report = [
        {"account_id": 1, "id": "a", "report_id": "by-id", "action": "Deposit",
         "time": at + timedelta(days=2), "total": D("7.5")},
        {"account_id": 1, "id": "b", "action": "Interest on cash",
         "time": at + timedelta(days=3), "total": D("0.33")},
    ]  # fmt: skip
    wh.merge_resource(
        Load("transactions", 1, "r", T1),
        {"transactions": rows_table("transactions", transactions)},
        None,
    )
    wh.merge_resource(
        Load("reports", 1, "r", T1), {"activity": rows_table("activity", report)}, None
    )
    kinds = dict(
        (ref, (kind, source))
        for ref, kind, source in wh.connection.execute(
            'SELECT "reference", "kind", "kind_source" FROM "cash_transactions"'
        ).fetchall()
    )
    assert kinds == {
        "small": ("interest", "estimate"),
        "big": ("deposit", "api"),
        "by-id": ("deposit", "report"),
        "by-time": ("interest", "report"),
    }
