"""The dashboard in headless Chromium: every chart draws, offline, with the warehouse's numbers."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from flows.app.dashboard import write_dashboard
from flows.app.dashboard.money import format_money, format_percent
from sandbox import DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID
from tests.flows.dashboard.browser import Browser
from tests.flows.dashboard.sample import RUNS, build_dividend_free_warehouse
from tests.flows.harness import scalar

pytestmark = pytest.mark.slow  # a headless Chromium

CHARTS = ("dividends", "holdings", "currency", "type", "value", "cash")
CURRENCIES = {DEMO_ACCOUNT_ID: "EUR", DEMO_ISA_ACCOUNT_ID: "GBP"}
# A chart drew when plotly built its SVG and at least one bar, pie slice or line is in it.
CHART_STATE = """
Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => ({
  id: d.closest('figure').dataset.testid,
  svgs: d.querySelectorAll('.main-svg').length,
  traces: (d._fullData || []).length,
  drawn: d.querySelectorAll('.point path, path.surface, .scatterlayer .trace path.js-line').length,
}))
"""
FIRST_INCOME_ROW = """(() => {
  const row = document.querySelector('[data-testid="income-table-%d"] tr[data-ticker]');
  const cell = row.querySelector('[data-testid="income-all-time"]');
  return {ticker: row.dataset.ticker, value: cell.dataset.value, text: cell.textContent};
})()"""
TESTIDS = """
Object.fromEntries(Array.from(document.querySelectorAll('[data-testid]')).map(e => [
  e.dataset.testid, {text: e.textContent.trim(), value: e.dataset.value ?? null}]))
"""


def _open(page: Path, profile: Path) -> tuple[list, dict, list[str], list[str], Browser]:
    browser = Browser(profile)
    browser.open(page.as_uri())
    return (
        browser.evaluate(CHART_STATE),
        browser.evaluate(TESTIDS),
        browser.console_errors(),
        browser.requested_urls(),
        browser,
    )


def test_report_draws_every_chart_with_warehouse_numbers(report_warehouse, tmp_path):
    data_dir, _ = report_warehouse
    page = write_dashboard(data_dir, tmp_path / "dashboard.html")
    charts, ids, errors, urls, browser = _open(page, tmp_path / "profile")
    try:
        browser_cells = {
            account: browser.evaluate(FIRST_INCOME_ROW % account) for account in CURRENCIES
        }
        browser.screenshot(tmp_path / "dashboard.png")
    finally:
        browser.close()
    if os.environ.get("REPORT_SCREENSHOT_TO"):  # refreshes docs/dashboard.png on demand
        shutil.copyfile(tmp_path / "dashboard.png", os.environ["REPORT_SCREENSHOT_TO"])

    assert errors == []
    assert urls == [page.as_uri()], "the report must load nothing beyond itself"
    expected = {f"chart-{c}-{a}-{cur}" for a, cur in CURRENCIES.items() for c in CHARTS}
    assert {c["id"] for c in charts} == expected
    for chart in charts:
        assert chart["svgs"] >= 1 and chart["traces"] >= 1 and chart["drawn"] >= 1, chart
    assert (tmp_path / "dashboard.png").stat().st_size > 20_000

    as_of = datetime.fromisoformat(_as_of(page))
    for account, cur in CURRENCIES.items():
        acc = [account]
        ttm = scalar(
            data_dir,
            "SELECT sum(amount) FROM dividends WHERE account_id = ? AND paid_on <= ? "
            "AND paid_on >= ?::TIMESTAMPTZ - INTERVAL 12 MONTH",
            [account, as_of, as_of],
        )
        shown = ids[f"ttm-total-{account}-{cur}"]
        assert Decimal(shown["value"]) == ttm
        assert shown["text"] == format_money(ttm, cur)
        value = scalar(
            data_dir,
            "SELECT total_value FROM portfolio_value_daily WHERE account_id = ? "
            "ORDER BY date DESC LIMIT 1",
            acc,
        )
        assert Decimal(ids[f"value-{account}"]["value"]) == value
        holdings = scalar(
            data_dir,
            "SELECT sum(wallet_impact_current_value) FROM positions_latest WHERE account_id = ?",
            acc,
        )
        assert Decimal(ids[f"holdings-total-{account}-{cur}"]["value"]) == holdings
        ticker, all_time = scalar(
            data_dir,
            "SELECT [ticker, income_all_time::VARCHAR] FROM dividend_income_by_ticker "
            "WHERE account_id = ? ORDER BY income_all_time DESC, ticker LIMIT 1",
            acc,
        )
        cell = browser_cells[account]
        assert cell["ticker"] == ticker
        assert Decimal(cell["value"]) == Decimal(all_time)
        assert cell["text"] == format_money(Decimal(all_time), cur)
        assert (
            scalar(data_dir, "SELECT count(*) FROM portfolio_value_daily WHERE account_id = ?", acc)
            == RUNS
        )
        twr = scalar(
            data_dir,
            "SELECT twr FROM returns WHERE account_id = ? AND period_kind = 'inception'",
            acc,
        )
        shown = ids[f"returns-twr-{account}"]
        assert (Decimal(shown["value"]), shown["text"]) == (twr, format_percent(twr))
        net = scalar(
            data_dir,
            "SELECT sum(gain) - sum(loss) FROM realised_gains_by_year "
            "WHERE account_id = ? AND method = 'uk' AND currency = ?",
            [account, cur],
        )
        shown = ids[f"gains-total-{account}-{cur}"]
        assert Decimal(shown["value"]) == net
        assert f"net {format_money(net, cur)} by HMRC share matching" in shown["text"]


def _as_of(page: Path) -> str:
    text = page.read_text()
    start = text.index('data-testid="as-of" datetime="') + len('data-testid="as-of" datetime="')
    return text[start : text.index('"', start)]


def test_account_without_dividends_says_so_and_draws_the_rest(tmp_path):
    data_dir = tmp_path / "wh"
    build_dividend_free_warehouse(data_dir)
    page = write_dashboard(data_dir, tmp_path / "dashboard.html")
    charts, ids, errors, urls, browser = _open(page, tmp_path / "profile")
    browser.close()

    assert errors == []
    assert urls == [page.as_uri()]
    assert "No dividends" in ids[f"empty-dividends-{DEMO_ACCOUNT_ID}"]["text"]
    assert f"empty-income-{DEMO_ACCOUNT_ID}" in ids
    assert {c["id"] for c in charts} == {
        f"chart-{c}-{DEMO_ACCOUNT_ID}-EUR" for c in CHARTS if c != "dividends"
    }
    assert all(c["svgs"] >= 1 and c["drawn"] >= 1 for c in charts), charts
