"""Hostile text in the warehouse shows as text in the report and never runs as script.

The texts from the data that reach the page are tickers, instrument names and types,
currencies, transaction types, and the years and periods of the portfolio model's gains
and returns. Account names live in the settings only: the warehouse and so the report
know accounts by their numeric id.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from flows.app.dashboard import build_dashboard, write_dashboard
from flows.app.dashboard.money import format_money
from tests.flows.dashboard.browser import Browser
from warehouse import Warehouse

AS_OF = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
# Every payload would set window.__pwned if it ran; none may open a dialog, which
# would stall the page.
CURRENCY_A = 'EUR"></div><img src=x onerror="window.__pwned=1">'
CURRENCY_B = (
    "'-(window.__pwned=2)-'<sub>2</sub>\");window.__pwned=3;//"
    "</script><script>window.__pwned=4</script>"
)
# Plotly reads a few tags (<b>, <a>, <br>, <sub>...) in chart text as formatting:
# shown as text here, they must come out as typed.
TICKERS = (
    '"><img src=x onerror=window.__pwned=5>',
    "</script><!--<script>window.__pwned=6//",
    "<b>B</b><a href='javascript:window.__pwned=7'>L</a>",
    "$x$ &lt;<br>",
)
NAMES = (
    '<b>bold</b> & <a href="https://example.com/">link</a> &amp; &lt;',
    "'-(window.__pwned=8)-' \\ \" \u2028 \u2029 }]);window.__pwned=9;//",
    "<svg onload=window.__pwned=10>",
    "<b>b</b> &amp; $y^2$",
)
INSTRUMENT_TYPE = '<i>ETF</i><br><iframe srcdoc="<script>parent.__pwned=11</script>">'
TRANSACTION_TYPE = "FEE<img src=x onerror=window.__pwned=12>"
TAX_YEAR = '2024/25"><img src=x onerror=window.__pwned=13>'
PERIOD = "2025</td><script>window.__pwned=14</script><td>"
ACCOUNTS = {7001: CURRENCY_A, 7002: CURRENCY_B}
CHARTS = ("dividends", "holdings", "currency", "type", "value", "cash")

PAGE_STATE = """(() => {
  const texts = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    if (!walk.currentNode.parentElement.closest('script, style')) texts.push(walk.currentNode.data);
  }
  return {
    pwned: window.__pwned ?? null,
    title: document.title,
    texts: texts,
    injected: document.querySelectorAll(
      'img, iframe, b, main a, [onload], [onerror], [srcdoc], svg svg').length,
    tickers: Array.from(document.querySelectorAll('tr[data-ticker]')).map(r => r.dataset.ticker),
    charts: Array.from(document.querySelectorAll('figure.chart')).map(f => ({
      testid: f.dataset.testid,
      text: Array.from(f.querySelectorAll('.main-svg text')).map(t => t.textContent).join('\\n'),
      svgs: f.querySelectorAll('.main-svg').length,
      drawn: f.querySelectorAll(
        '.point path, path.surface, .scatterlayer .trace path.js-line').length,
    })),
  };
})()"""


def _insert(con, table: str, **row) -> None:
    columns = ", ".join(f'"{c}"' for c in row)
    con.execute(
        f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(row))})',
        list(row.values()),
    )


def _fill(con, account_id: int, currency: str) -> None:
    """Rows written straight into the tables, past the checks the transforms make."""
    for days_ago in (40, 10):
        at = AS_OF - timedelta(days=days_ago)
        _insert(con, "account_summaries", account_id=account_id, snapshot_at=at,
                snapshot_date=at.date(), currency=currency, total_value=Decimal("1500.25"),
                cash_available_to_trade=Decimal("100"), investments_current_value=Decimal("1400"),
                investments_total_cost=Decimal("1300"))  # fmt: skip
    for n, (ticker, name) in enumerate(zip(TICKERS, NAMES, strict=True)):
        _insert(con, "instruments", ticker=ticker, name=name, type=INSTRUMENT_TYPE,
                currency_code=currency, is_listed=True)  # fmt: skip
        _insert(con, "positions", account_id=account_id, snapshot_at=AS_OF - timedelta(days=10),
                snapshot_date=(AS_OF - timedelta(days=10)).date(), ticker=ticker,
                instrument_name=name, instrument_currency=currency,
                price_currency_major=currency, wallet_impact_currency=currency,
                quantity=Decimal(n + 1), wallet_impact_current_value=Decimal(100 * (n + 1)),
                wallet_impact_total_cost=Decimal(90 * (n + 1)))  # fmt: skip
        for month in range(3):  # three payments a month apart: a payment pattern
            paid = AS_OF - timedelta(days=5 + 30 * month)
            _insert(con, "dividends", account_id=account_id, reference=f"{n}-{month}",
                    ticker=ticker, type="ORDINARY", paid_on=paid, amount=Decimal("1.25"),
                    currency=currency, instrument_name=name)  # fmt: skip
    for n, (kind, amount) in enumerate((("DEPOSIT", "500"), (TRANSACTION_TYPE, "-2.5"))):
        _insert(con, "transactions", account_id=account_id, reference=f"t{n}", type=kind,
                date_time=AS_OF - timedelta(days=20), amount=Decimal(amount),
                currency=currency)  # fmt: skip
    for method in ("uk", "average"):
        _insert(con, "disposals", account_id=account_id, method=method, disposal_id="d1",
                disposed_at=AS_OF - timedelta(days=30), day=(AS_OF - timedelta(days=30)).date(),
                year=TAX_YEAR, instrument=TICKERS[0], ticker=TICKERS[0], quantity=Decimal(1),
                proceeds=Decimal("110"), sale_costs=Decimal(0), acquisition_costs=Decimal(100),
                allowable_costs=Decimal(100), gain=Decimal(10), currency=currency)  # fmt: skip
    for kind, period in (("year", PERIOD), ("inception", "inception")):
        _insert(con, "returns", account_id=account_id, period_kind=kind, period=period,
                start_day=(AS_OF - timedelta(days=40)).date(),
                end_day=(AS_OF - timedelta(days=10)).date(), start_value=Decimal("1500.25"),
                end_value=Decimal("1500.25"), net_flows=Decimal(0), twr=Decimal(0),
                mwr=Decimal(0), max_drawdown=Decimal(0), days=30, currency=currency)  # fmt: skip


@pytest.fixture(scope="module")
def hostile_warehouse(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("hostile-wh")
    with Warehouse.open(data_dir) as warehouse:
        for account_id, currency in ACCOUNTS.items():
            _fill(warehouse.connection, account_id, currency)
        warehouse.publish_database()
    return data_dir


def test_chart_ids_come_from_a_counter_not_from_data(hostile_warehouse):
    html = build_dashboard(hostile_warehouse, as_of=AS_OF)
    ids = re.findall(r'<div id="([^"]*)"', html)
    assert ids and all(re.fullmatch(r"chart-\d+", i) for i in ids), ids
    assert len(set(ids)) == len(ids) == len(ACCOUNTS) * len(CHARTS)


def test_hostile_text_shows_as_text_and_runs_nothing(hostile_warehouse, tmp_path):
    page = write_dashboard(hostile_warehouse, tmp_path / "dashboard.html", as_of=AS_OF)
    browser = Browser(tmp_path / "profile")
    try:
        browser.open(page.as_uri())
        state = browser.evaluate(PAGE_STATE)
        errors, urls = browser.console_errors(), browser.requested_urls()
    finally:
        browser.close()

    assert state["pwned"] is None
    assert state["title"] == f"Trading 212 dashboard {AS_OF.date().isoformat()}"
    assert state["injected"] == 0
    assert errors == []
    assert urls == [page.as_uri()]
    shown = set(state["texts"])
    for account_id, currency in ACCOUNTS.items():
        assert currency in shown, "the header's currency cell"
        assert f"Account {account_id} · {currency}" in shown
        assert format_money(Decimal("1500.25"), currency) in shown
    for ticker, name in zip(TICKERS, NAMES, strict=True):
        assert ticker in shown and name in shown, "the income table's cells"
    assert TRANSACTION_TYPE.title() in shown, "the cash table's label"
    assert TAX_YEAR in shown and PERIOD in shown, "the gains' and returns' first cells"
    for currency in ACCOUNTS.values():
        assert f"In {currency}:" in shown, "the gains' and income tables' captions"
    assert sorted(state["tickers"]) == sorted(TICKERS * len(ACCOUNTS))

    charts = {c["testid"]: c for c in state["charts"]}
    assert set(charts) == {f"chart-{c}-{a}-{cur}" for a, cur in ACCOUNTS.items() for c in CHARTS}
    for chart in charts.values():
        assert chart["svgs"] >= 1 and chart["drawn"] >= 1, chart["testid"]
    for account_id, currency in ACCOUNTS.items():
        legend = charts[f"chart-dividends-{account_id}-{currency}"]["text"]
        assert all(ticker in legend for ticker in TICKERS), legend
        assert f"Dividend income per month, {currency}" in legend
        assert INSTRUMENT_TYPE in charts[f"chart-type-{account_id}-{currency}"]["text"]
        assert TRANSACTION_TYPE.title() in charts[f"chart-cash-{account_id}-{currency}"]["text"]
        holdings = charts[f"chart-holdings-{account_id}-{currency}"]["text"]
        assert all(f"{t} {n}"[:40] in holdings for t, n in zip(TICKERS, NAMES, strict=True))
