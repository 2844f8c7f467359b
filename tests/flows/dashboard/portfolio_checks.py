"""Checks shared by the portfolio section tests: each figure of the page against its view."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from flows.app.dashboard.money import format_money
from flows.app.dashboard.portfolio import MAX_YEARS
from tests.flows.dashboard.pages import Page
from tests.flows.harness import query

GAINS_SQL = """
    SELECT "year", "disposals", "proceeds", "allowable_costs", "gain", "loss",
           "gain" - "loss"
    FROM "realised_gains_by_year"
    WHERE "account_id" = ? AND "method" = 'uk' AND "currency" = ?
    ORDER BY "year" DESC"""
INCOME_SQL = """
    SELECT "tax_year", sum("dividends_gross"), sum("withholding_tax"), sum("dividends_net"),
           sum("interest"), sum("fees"), sum("dividend_payments")
    FROM "income_monthly" WHERE "account_id" = ? AND "currency" = ?
    GROUP BY ALL ORDER BY "tax_year" DESC"""
RETURNS_SQL = """
    SELECT "period", "start_day", "end_day", "start_value", "end_value", "net_flows", "twr"
    FROM "returns" WHERE "account_id" = ? AND "period_kind" = 'year' ORDER BY "period" DESC"""
NET_SQL = """
    SELECT sum("gain") - sum("loss"), sum("disposals") FROM "realised_gains_by_year"
    WHERE "account_id" = ? AND "method" = ? AND "currency" = ?"""
INCEPTION_SQL = """
    SELECT "twr", "mwr", "max_drawdown", "start_day", "end_day", "days" FROM "returns"
    WHERE "account_id" = ? AND "period_kind" = 'inception'"""


def assert_money_cells(rows: list[dict], names: tuple[str, ...], currency: str) -> None:
    """Each money cell's text is its exact value formatted in ``currency``."""
    for row in rows:
        for name in names:
            cell = row[name]
            assert cell.text == format_money(Decimal(cell.value), currency), (row["year"], name)


def assert_sections_match_the_views(
    data_dir: Path, page: Page, account: int, currency: str
) -> None:
    """Every figure of the three sections of ``account`` is its view's, or the section says
    it has none."""
    gains = query(data_dir, GAINS_SQL, [account, currency])
    money = ("gains-proceeds", "gains-allowable-costs", "gains-gains", "gains-losses", "gains-net")
    if gains:
        rows = page.tables[f"gains-table-{account}-{currency}"]
        shown = [
            [r["year"], int(r["gains-disposals"].text), *(Decimal(r[m].value) for m in money)]
            for r in rows
        ]
        assert shown == [list(row) for row in gains[:MAX_YEARS]]
        assert_money_cells(rows, money, currency)
        ((net, _),) = query(data_dir, NET_SQL, [account, "uk", currency])
        assert Decimal(page.ids[f"gains-total-{account}-{currency}"].value) == net
        ((average, _),) = query(data_dir, NET_SQL, [account, "average", currency])
        shown_average = page.ids.get(f"gains-average-{account}-{currency}")
        assert (shown_average and Decimal(shown_average.value)) == average
    else:
        assert f"empty-gains-{account}" in page.ids
    income = query(data_dir, INCOME_SQL, [account, currency])
    money = ("income-gross", "income-withholding", "income-net", "income-interest", "income-fees")
    if income:
        rows = page.tables[f"income-years-{account}-{currency}"]
        shown = [
            [r["year"], *(Decimal(r[m].value) for m in money), int(r["income-payments"].text)]
            for r in rows
        ]
        assert shown == [list(row) for row in income[:MAX_YEARS]]
        assert_money_cells(rows, money, currency)
    else:
        assert f"empty-income-years-{account}" in page.ids
    returns = query(data_dir, RETURNS_SQL, [account])
    money = ("returns-start-value", "returns-end-value", "returns-net-flows")
    if returns:
        rows = page.tables[f"returns-table-{account}"]
        shown = [[r["year"], *(Decimal(r[m].value) for m in (*money, "returns-twr"))] for r in rows]
        assert shown == [[e[0], *e[3:]] for e in returns[:MAX_YEARS]]
        assert_money_cells(rows, money, currency)
        ((twr, mwr, drawdown, *_),) = query(data_dir, INCEPTION_SQL, [account])
        assert Decimal(page.ids[f"returns-twr-{account}"].value) == twr
        assert Decimal(page.ids[f"returns-drawdown-{account}"].value) == drawdown
        shown_mwr = page.ids[f"returns-mwr-{account}"].value
        assert (shown_mwr and Decimal(shown_mwr)) == mwr
    else:
        assert "at least two nightly runs" in page.ids[f"empty-returns-{account}"].text
