"""The dashboard as one self-contained HTML page: header, one section per account, inline charts."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

import pandas as pd
import plotly.graph_objects as go

from flows.app.dashboard import figures, portfolio
from flows.app.dashboard.markup import empty, money_cell
from flows.app.dashboard.money import (
    format_change,
    format_date,
    format_money,
    format_percent,
    format_time,
)
from flows.app.dashboard.queries import INTEREST_LIKE_BELOW, MONTHS, AccountData

NEXT_PAYERS_DAYS = 90
_CONFIG = {"displaylogo": False, "responsive": True}
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;
background:#f5f6f8}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
header{background:#14213d;color:#fff;padding:18px 24px}
header h1{margin:0 0 6px;font-size:22px}header p{margin:2px 0}
section.account{background:#fff;border-radius:8px;padding:12px 20px;margin:18px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{margin:8px 0 4px}h3{margin:22px 0 6px;border-bottom:1px solid #e3e6ea;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #eef0f3}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.kpi{font-size:16px}.kpi strong{font-size:20px}
.note,.empty{color:#5b6472;font-size:13px}.empty{padding:14px;background:#f7f7f2;border-radius:6px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:8px}figure{margin:0}
header table td,header table th{border-color:#2f3d5c;color:#fff}
"""


class _Charts:
    """Turns figures into HTML divs, inlining plotly.js with the first one only.

    Each chart's element id is a counter: plotly writes the id unescaped into the page
    and into a script, so it must never carry text from the data (the ``testid`` does,
    and goes into an escaped attribute of the wrapping figure instead).
    """

    def __init__(self) -> None:
        self.count = 0

    def html(self, fig: go.Figure, testid: str) -> str:
        div = fig.to_html(
            full_html=False,
            include_plotlyjs=self.count == 0,
            config=_CONFIG,
            div_id=f"chart-{self.count}",
        )
        self.count += 1
        return f'<figure class="chart" data-testid="{escape(testid)}">{div}</figure>'


def render_page(accounts: list[AccountData], as_of: datetime) -> str:
    """The whole dashboard page for ``accounts`` as of ``as_of``."""
    charts = _Charts()
    body = [_section(data, as_of, charts) for data in accounts] or [
        empty(
            "This warehouse holds no account data yet: run `t212-etl run` first, "
            "then make the dashboard again.",
            "empty-warehouse",
        )
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Trading 212 dashboard {format_date(as_of)}</title><style>{_STYLE}</style></head>"
        f"<body>{_header(accounts, as_of)}<main>{''.join(body)}</main></body></html>\n"
    )


def _header(accounts: list[AccountData], as_of: datetime) -> str:
    rows = "".join(
        f'<tr data-testid="header-account-{d.account_id}"><td>{d.account_id}</td>'
        f"<td>{escape(_currency(d) or '–')}</td>"
        + (
            money_cell(d.summary["total_value"], d.summary["currency"], f"value-{d.account_id}")
            if d.summary is not None
            else "<td>–</td>"
        )
        + f"<td>{format_time(d.last_refresh)}</td></tr>"
        for d in accounts
    )
    table = (
        "<table><tr><th>account</th><th>currency</th><th class=num>value</th>"
        f"<th>data last refreshed</th></tr>{rows}</table>"
        if accounts
        else ""
    )
    return (
        "<header><h1>Trading 212 dashboard</h1>"
        f'<p>Made <time data-testid="as-of" datetime="{as_of.isoformat()}">'
        f"{format_time(as_of)}</time> from the warehouse; amounts in each account's currency, "
        f"never converted or added across currencies.</p>{table}</header>"
    )


def _currency(data: AccountData) -> str | None:
    if data.summary is not None:
        return data.summary["currency"]
    for frame in (data.ttm, data.allocation, data.cash_flows):
        if len(frame):
            return frame["currency"].iloc[0]
    return None


def _section(data: AccountData, as_of: datetime, charts: _Charts) -> str:
    acc = data.account_id
    parts = [
        f'<section class="account" data-testid="account-{acc}">',
        f"<h2>Account {acc} · {escape(_currency(data) or 'no currency yet')}</h2>",
        "<h3>Dividend income</h3>",
        _dividends(data, as_of, charts),
        "<h3>Income by ticker</h3>",
        _income_table(data),
        "<h3>Next expected payers</h3>",
        _next_payers(data, as_of),
        "<h3>Income by UK tax year, net of withholding</h3>",
        portfolio.income_section(data),
        "<h3>Allocation of the current portfolio</h3>",
        _allocation(data, charts),
        f"<h3>Realised gains by UK tax year ({portfolio.wrapper_title(data)})</h3>",
        portfolio.gains_section(data),
        "<h3>Account value over time</h3>",
        _value(data, charts),
        "<h3>Returns</h3>",
        portfolio.returns_section(data, as_of),
        f"<h3>Cash in and out per month (last {MONTHS} months)</h3>",
        _cash_flows(data, as_of, charts),
        "</section>",
    ]
    return "".join(parts)


def _dividends(data: AccountData, as_of: datetime, charts: _Charts) -> str:
    acc = data.account_id
    if data.ttm.empty and data.monthly_dividends.empty:
        return empty(
            f"No dividends in the last {MONTHS} months in this account.", f"empty-dividends-{acc}"
        )
    out = []
    for row in data.ttm.itertuples():
        cur = row.currency
        out.append(
            f'<p class="kpi">Trailing twelve months ({escape(cur)}): '
            f'<strong data-testid="ttm-total-{acc}-{escape(cur)}" data-value="{row.ttm}">'
            f"{escape(format_money(row.ttm, cur))}</strong> from {row.payments} payments, "
            f'<span data-testid="ttm-trend-{acc}-{escape(cur)}">'
            f"{escape(format_change(row.ttm, row.previous_ttm))}</span> "
            f"({escape(format_money(row.previous_ttm, cur))}).</p>"
        )
    for cur, monthly in data.monthly_dividends.groupby("currency"):
        totals = data.dividend_months[data.dividend_months["currency"] == cur]
        fig = figures.dividend_months(monthly, totals, cur, as_of)
        out.append(charts.html(fig, f"chart-dividends-{acc}-{cur}"))
    return "".join(out)


def _income_table(data: AccountData) -> str:
    acc = data.account_id
    if data.by_ticker.empty:
        return empty("No dividend income recorded yet.", f"empty-income-{acc}")
    rows = []
    for r in data.by_ticker.itertuples():
        yoc = None if pd.isna(r.yield_on_cost) else r.yield_on_cost
        rows.append(
            f'<tr data-ticker="{escape(r.ticker)}"><td>{escape(r.ticker)}</td>'
            f"<td>{escape(str(r.name or ''))}</td>"
            + money_cell(r.income_all_time, r.currency, "income-all-time")
            + money_cell(r.income_ttm, r.currency, "income-ttm")
            + f'<td class="num">{format_percent(yoc)}</td>'
            f'<td class="num">{r.payments}</td><td>{format_date(r.last_paid)}</td>'
            f"<td>{'yes' if r.held else 'no'}</td></tr>"
        )
    return (
        f'<table data-testid="income-table-{acc}"><tr><th>ticker</th><th>name</th>'
        "<th class=num>all time</th><th class=num>last 12 months</th>"
        "<th class=num>yield on cost</th><th class=num>payments</th><th>last paid</th>"
        f"<th>held now</th></tr>{''.join(rows)}</table>"
        '<p class="note">Yield on cost: the last twelve months\' income over the cost of the '
        "current holding, where both are in the same currency.</p>"
    )


def _next_payers(data: AccountData, as_of: datetime) -> str:
    acc = data.account_id
    frame = data.by_ticker
    horizon = as_of + timedelta(days=NEXT_PAYERS_DAYS)
    due = frame[frame["next_expected"].notna()] if len(frame) else frame
    due = due[(due["next_expected"] <= horizon) & (due["next_expected"] >= as_of - timedelta(30))]
    if due.empty:
        return empty(
            f"No held instrument has a payment pattern that points into the next "
            f"{NEXT_PAYERS_DAYS} days.",
            f"empty-next-payers-{acc}",
        )
    rows = "".join(
        f"<tr><td>{escape(r.ticker)}</td><td>{format_date(r.next_expected)}</td>"
        f'<td class="num">every {r.gap_days:.0f} days</td><td>{format_date(r.last_paid)}</td></tr>'
        for r in due.sort_values("next_expected").itertuples()
    )
    return (
        f'<table data-testid="next-payers-{acc}"><tr><th>ticker</th><th>expected around</th>'
        f"<th class=num>usual gap</th><th>last paid</th></tr>{rows}</table>"
        '<p class="note">An estimate: the last payment plus the median gap between past '
        "payments, for instruments held now with at least three payments.</p>"
    )


def _allocation(data: AccountData, charts: _Charts) -> str:
    acc = data.account_id
    if data.allocation.empty:
        return empty("No open positions in the latest snapshot.", f"empty-allocation-{acc}")
    out = []
    for cur, alloc in data.allocation.groupby("currency"):
        total = alloc["value"].sum()
        out.append(
            f'<p class="kpi">Holdings: <strong data-testid="holdings-total-{acc}-{escape(cur)}" '
            f'data-value="{total}">{escape(format_money(total, cur))}</strong> '
            f"in {len(alloc)} positions.</p>"
        )
        out.append(
            charts.html(figures.allocation_by_instrument(alloc, cur), f"chart-holdings-{acc}-{cur}")
        )
        by_currency = figures.allocation_pie(
            alloc, "instrument_currency", f"By trading currency (value in {cur})"
        )
        by_type = figures.allocation_pie(alloc, "type", f"By instrument type (value in {cur})")
        out.append(
            '<div class="grid">'
            + charts.html(by_currency, f"chart-currency-{acc}-{cur}")
            + charts.html(by_type, f"chart-type-{acc}-{cur}")
            + "</div>"
        )
    return "".join(out)


def _value(data: AccountData, charts: _Charts) -> str:
    acc = data.account_id
    if data.value_history.empty:
        return empty("No account snapshots yet.", f"empty-value-{acc}")
    out = []
    for cur, history in data.value_history.groupby("currency"):
        out.append(charts.html(figures.value_over_time(history, cur), f"chart-value-{acc}-{cur}"))
    if len(data.value_history) == 1:
        out.append('<p class="note">One snapshot so far: every nightly run adds a day.</p>')
    return "".join(out)


def _cash_flows(data: AccountData, as_of: datetime, charts: _Charts) -> str:
    acc = data.account_id
    if data.cash_flows.empty:
        return empty(f"No transactions in the last {MONTHS} months.", f"empty-cash-{acc}")
    out = []
    for cur, flows in data.cash_flows.groupby("currency"):
        out.append(charts.html(figures.cash_flows(flows, cur, as_of), f"chart-cash-{acc}-{cur}"))
        sums = flows.groupby("kind")["amount"].sum()
        rows = "".join(
            f"<tr><td>{escape(figures.CASH_FLOW_LABELS.get(kind, kind.title()))}</td>"
            + money_cell(sums[kind], cur, f"cash-{kind.lower()}")
            + "</tr>"
            for kind in sums.index
        )
        out.append(
            f'<table data-testid="cash-table-{acc}-{escape(cur)}"><tr><th>last {MONTHS} months'
            f"</th><th class=num>total</th></tr>{rows}</table>"
        )
    out.append(
        '<p class="note">The API reports interest on cash as ordinary deposits. Where a CSV '
        "report row names a deposit, its kind comes from the report; otherwise deposits "
        f"under {INTEREST_LIKE_BELOW} are shown apart as probably interest, an estimate.</p>"
    )
    return "".join(out)
