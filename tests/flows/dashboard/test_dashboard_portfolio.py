"""The dashboard's portfolio sections: realised gains and income by UK tax year, and returns.

A warehouse written row by row gives every case its own account: 7101 has more than six
years of everything, 7102 nothing but its value, 7103 one year, no average-cost rows and
no money-weighted return. Every figure shown is compared with a query of the same view.
The account summaries hold a total value only: the value chart draws with the other
columns empty.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from flows.app.dashboard import build_dashboard
from flows.app.dashboard.money import format_money, format_percent
from flows.app.dashboard.portfolio import MAX_YEARS, RETURN_METHODS, UK_METHOD
from tests.flows.dashboard.pages import insert, read_page
from tests.flows.dashboard.portfolio_checks import (
    GAINS_SQL,
    INCEPTION_SQL,
    INCOME_SQL,
    NET_SQL,
    RETURNS_SQL,
    assert_money_cells,
)
from tests.flows.harness import query
from warehouse import Warehouse

AS_OF = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
FULL, NOTHING, SHORT = 7101, 7102, 7103
CURRENCIES = {FULL: "GBP", NOTHING: "EUR", SHORT: "USD"}


def _disposal(con, account_id, method, n, at, year, proceeds, gain, currency):
    costs = Decimal(proceeds) - Decimal(gain)
    insert(con, "disposals", account_id=account_id, method=method, disposal_id=f"{method}-{n}",
           disposed_at=at, day=at.date(), year=year, instrument="GB00TEST", ticker="TEST",
           isin="GB00TEST", quantity=Decimal(3), proceeds=Decimal(proceeds),
           sale_costs=Decimal("0.5"), acquisition_costs=costs - Decimal("0.5"),
           allowable_costs=costs, gain=Decimal(gain), currency=currency)  # fmt: skip


def _returns(con, account_id, kind, period, start, end, twr, mwr, currency):
    insert(con, "returns", account_id=account_id, period_kind=kind, period=period,
           start_day=start, end_day=end, start_value=Decimal("1000.004"),
           end_value=Decimal("1234.565"), net_flows=Decimal("-50.125"), twr=Decimal(twr),
           mwr=None if mwr is None else Decimal(mwr), max_drawdown=Decimal("-0.1834567891"),
           days=(end - start).days, currency=currency)  # fmt: skip


def _fill_full(con) -> None:
    acc, cur = FULL, "GBP"
    for start in range(2016, 2025):  # nine tax years, 2016/17 to 2024/25
        at = datetime(start, 9, 1, tzinfo=UTC)
        year = f"{start}/{(start + 1) % 100:02d}"
        _disposal(con, acc, "uk", 2 * start, at, year, "1500.125", f"{start - 2000}.3333", cur)
        _disposal(con, acc, "uk", 2 * start + 1, at, year, "200", "-7.005", cur)
        _disposal(con, acc, "average", start, at, str(start), "1700.125", f"{start - 2010}.1", cur)
    for year in range(2019, 2026):  # seven years of returns, 2025 to date
        start, end = date(year - 1, 12, 31), min(date(year, 12, 31), AS_OF.date())
        _returns(con, acc, "year", str(year), start, end, f"0.0{year - 2015}5", "0.01", cur)
    _returns(con, acc, "inception", "inception", date(2018, 12, 31), AS_OF.date(),
             "0.4321098765", "0.0612345678", cur)  # fmt: skip
    for year in range(2018, 2026):  # dividends in eight tax years, 2018/19 to 2025/26
        insert(con, "dividends", account_id=acc, reference=f"div-{year}", ticker="TEST",
               type="ORDINARY", paid_on=datetime(year, 5, 10, tzinfo=UTC),
               amount=Decimal("10.123456"), currency=cur)  # fmt: skip
    insert(con, "activity", account_id=acc, id="withheld", action="Dividend (Dividend)",
           time=datetime(2024, 7, 1, tzinfo=UTC), ticker="TEST", shares=Decimal(10),
           price_per_share=Decimal(1), price_per_share_currency=cur, total=Decimal("8.5"),
           total_currency=cur, withholding_tax=Decimal("1.5"),
           withholding_tax_currency=cur)  # fmt: skip
    insert(con, "activity", account_id=acc, id="interest", action="Interest on cash",
           time=datetime(2024, 8, 1, tzinfo=UTC), total=Decimal("0.42"),
           total_currency=cur)  # fmt: skip
    for ref, kind, amount in (("fee", "FEE", "-1.2"), ("small", "DEPOSIT", "3.33")):
        insert(con, "transactions", account_id=acc, reference=ref, type=kind,
               date_time=datetime(2024, 9, 1, tzinfo=UTC), amount=Decimal(amount),
               currency=cur)  # fmt: skip


def _fill_short(con) -> None:
    acc, cur = SHORT, "USD"
    at = datetime(2024, 11, 5, tzinfo=UTC)
    _disposal(con, acc, "uk", 1, at, "2024/25", "99.995", "-12.5", cur)
    _returns(con, acc, "year", "2025", date(2025, 6, 13), date(2025, 6, 14), "0", None, cur)
    _returns(con, acc, "inception", "inception", date(2025, 6, 13), date(2025, 6, 14),
             "0", None, cur)  # fmt: skip


@pytest.fixture(scope="module")
def portfolio_warehouse(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("portfolio-wh")
    with Warehouse.open(data_dir) as warehouse:
        con = warehouse.connection
        for account_id, currency in CURRENCIES.items():
            at = AS_OF - timedelta(days=10)
            insert(con, "account_summaries", account_id=account_id, snapshot_at=at,
                   snapshot_date=at.date(), currency=currency,
                   total_value=Decimal("1234.565"))  # fmt: skip
        _fill_full(con)
        _fill_short(con)
        insert(con, "settings", name=f"wrapper:{SHORT}", value="isa")
        warehouse.publish_database()
    return data_dir


@pytest.fixture(scope="module")
def page(portfolio_warehouse):
    return read_page(build_dashboard(portfolio_warehouse, as_of=AS_OF))


def test_gains_show_the_latest_six_uk_tax_years_with_the_views_numbers(portfolio_warehouse, page):
    rows = page.tables[f"gains-table-{FULL}-GBP"]
    expected = query(portfolio_warehouse, GAINS_SQL, [FULL, "GBP"])
    assert len(expected) == 9
    money = ("gains-proceeds", "gains-allowable-costs", "gains-gains", "gains-losses", "gains-net")
    shown = [
        [r["year"], int(r["gains-disposals"].text), *(Decimal(r[m].value) for m in money)]
        for r in rows
    ]
    assert shown == [list(row) for row in expected[:MAX_YEARS]]
    assert [r["year"] for r in rows] == [f"{y}/{(y + 1) % 100:02d}" for y in range(2024, 2018, -1)]
    assert_money_cells(rows, money, "GBP")
    assert rows[0]["gains-net"].text == "£17.33"  # 24.3333 - 7.005, half-even to the penny
    assert UK_METHOD in page.ids[f"gains-method-{FULL}"].text
    assert "Amounts in" not in page.ids[f"gains-method-{FULL}"].text, "pounds need no warning"


def test_gains_total_covers_every_year_and_is_compared_with_average_cost(portfolio_warehouse, page):
    ((uk_net, uk_disposals),) = query(portfolio_warehouse, NET_SQL, [FULL, "uk", "GBP"])
    ((average_net, _),) = query(portfolio_warehouse, NET_SQL, [FULL, "average", "GBP"])
    total = page.ids[f"gains-total-{FULL}-GBP"]
    assert Decimal(total.value) == uk_net
    assert f"All tax years, {uk_disposals} disposals: net {format_money(uk_net, 'GBP')}" in (
        total.text
    )
    average = page.ids[f"gains-average-{FULL}-GBP"]
    assert Decimal(average.value) == average_net
    assert average.text == format_money(average_net, "GBP")
    assert average_net < uk_net
    assert f"{format_money(uk_net - average_net, 'GBP')} less." in total.text
    assert "3 earlier tax years not shown: the latest 6 are." in _section_text(page, FULL)


def test_account_without_average_cost_rows_has_no_comparison(portfolio_warehouse, page):
    total = page.ids[f"gains-total-{SHORT}-USD"]
    assert total.text == "All tax years, 1 disposal: net -$12.50 by HMRC share matching."
    assert f"gains-average-{SHORT}-USD" not in page.ids
    assert "Amounts in USD as the account holds them" in page.ids[f"gains-method-{SHORT}"].text
    (row,) = page.tables[f"gains-table-{SHORT}-USD"]
    assert (row["year"], row["gains-losses"].text, row["gains-gains"].text) == (
        "2024/25",
        "$12.50",
        "$0.00",
    )


def test_income_by_tax_year_is_the_sum_of_the_months(portfolio_warehouse, page):
    rows = page.tables[f"income-years-{FULL}-GBP"]
    expected = query(portfolio_warehouse, INCOME_SQL, [FULL, "GBP"])
    assert len(expected) == 8
    money = ("income-gross", "income-withholding", "income-net", "income-interest", "income-fees")
    shown = [
        [r["year"], *(Decimal(r[m].value) for m in money), int(r["income-payments"].text)]
        for r in rows
    ]
    assert shown == [list(row) for row in expected[:MAX_YEARS]]
    assert_money_cells(rows, money, "GBP")
    by_year = {r["year"]: r for r in rows}
    withheld = by_year["2024/25"]
    # the API dividend of May 2024 fell in 2024/25 too, with nothing withheld
    assert Decimal(withheld["income-withholding"].value) == Decimal("1.5")
    assert Decimal(withheld["income-gross"].value) == Decimal("10.123456") + 10
    assert Decimal(withheld["income-net"].value) == Decimal("10.123456") + Decimal("8.5")
    assert Decimal(withheld["income-interest"].value) == Decimal("0.42") + Decimal("3.33")
    assert withheld["income-fees"].text == "£1.20"
    assert rows[0]["year"] == "2025/26"
    assert "2 earlier tax years not shown" in _section_text(page, FULL)


def test_returns_per_year_and_since_inception(portfolio_warehouse, page):
    rows = page.tables[f"returns-table-{FULL}"]
    expected = query(portfolio_warehouse, RETURNS_SQL, [FULL])
    assert len(expected) == 7
    money = ("returns-start-value", "returns-end-value", "returns-net-flows")
    shown = [[r["year"], *(Decimal(r[m].value) for m in (*money, "returns-twr"))] for r in rows]
    assert shown == [[e[0], *e[3:]] for e in expected[:MAX_YEARS]]
    assert_money_cells(rows, money, "GBP")
    assert rows[0]["returns-net-flows"].text == "-£50.12"
    for row in rows:
        assert row["returns-twr"].text == format_percent(Decimal(row["returns-twr"].value))
    twr, mwr, drawdown, start, end, days = query(portfolio_warehouse, INCEPTION_SQL, [FULL])[0]
    for name, value, text in (("twr", twr, "43.21%"), ("mwr", mwr, "6.12%"),
                              ("drawdown", drawdown, "-18.35%")):  # fmt: skip
        shown = page.ids[f"returns-{name}-{FULL}"]
        assert (Decimal(shown.value), shown.text) == (value, text)
    text = _section_text(page, FULL)
    assert f"Since {start} ({days} days, to {end}): time-weighted 43.21%" in text
    assert "money-weighted 6.12% a year, maximum drawdown -18.35%." in text
    assert "2025 to date" in text and "2024 to date" not in text
    assert "1 earlier year not shown" in text
    assert RETURN_METHODS in page.ids[f"returns-method-{FULL}"].text


def test_no_money_weighted_return_is_said_not_shown_as_a_number(page):
    assert page.ids[f"returns-mwr-{SHORT}"].value is None
    text = _section_text(page, SHORT)
    assert "time-weighted 0.00%, no money-weighted return, maximum drawdown -18.35%." in text
    assert "No money-weighted return: no rate solves these cash flows" in text
    assert page.ids[f"returns-twr-{SHORT}"].text == "0.00%"


def test_an_account_with_nothing_yet_reads_well(page):
    assert page.ids[f"empty-gains-{NOTHING}"].text == (
        "Nothing sold yet: no disposals, so no realised gains or losses."
    )
    assert "No dividends, interest or fees" in page.ids[f"empty-income-years-{NOTHING}"].text
    returns = page.ids[f"empty-returns-{NOTHING}"].text
    assert "Returns need at least two nightly runs' account values" in returns
    assert f"empty-income-years-{SHORT}" in page.ids
    for table in ("gains-table", "income-years"):
        assert f"{table}-{NOTHING}-EUR" not in page.tables
    assert f"returns-table-{NOTHING}" not in page.tables


def _section_text(page, account_id: int) -> str:
    return " ".join(page.ids[f"account-{account_id}"].text.split())


def test_gains_of_a_taxable_account_and_of_an_isa_are_told_apart(page):
    taxable, isa = page.ids[f"gains-wrapper-{FULL}"], page.ids[f"gains-wrapper-{SHORT}"]
    assert taxable.attrs["data-wrapper"] == "invest" and "SA108" in taxable.text
    assert isa.attrs["data-wrapper"] == "isa" and "free of capital gains tax" in isa.text
    assert page.ids[f"gains-wrapper-{NOTHING}"].attrs["data-wrapper"] == "invest"
