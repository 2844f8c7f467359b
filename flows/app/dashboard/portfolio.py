"""The portfolio sections of an account: realised gains and income by UK tax year, returns.

Each section names its method, shows amounts in the currency the warehouse holds them in
(never converted) and says so plainly when there is nothing to show yet.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape

import pandas as pd

from flows.app.dashboard.markup import empty, exact, money_cell, percent_cell
from flows.app.dashboard.money import format_date, format_money, format_percent
from flows.app.dashboard.queries import AccountData

MAX_YEARS = 6
UK_METHOD = "HMRC share matching: same day, 30 days, Section 104 pool"
TAX_YEARS = "UK tax years run from 6 April to 5 April"
RETURN_METHODS = (
    "time-weighted, chain-linked between the account's values at the moments each run took "
    "them; money-weighted: XIRR on calendar days, 365-day year"
)
NO_RETURNS = (
    "Returns need at least two nightly runs' account values: they are measured between the "
    "account's values at the moments they were taken. CSV reports carry no account values, "
    "so imported reports alone give none; every nightly run adds one."
)
WRAPPERS = {
    "isa": "Stocks ISA: gains and losses here are free of capital gains tax and belong on no "
    "tax return; they are shown for information and left out of uk_cgt_summary.",
    "invest": "Taxable account: these gains and losses belong on the capital gains pages of a "
    "Self Assessment return (SA108); uk_cgt_summary adds up the taxable accounts in pounds.",
}


def _head(*names: str, text: int = 1) -> str:
    """A header row: the first ``text`` columns hold text, the others numbers."""
    cells = "".join(
        f"<th>{name}</th>" if n < text else f"<th class=num>{name}</th>"
        for n, name in enumerate(names)
    )
    return f"<tr>{cells}</tr>"


def _label(value: object) -> str:
    """A year or period from the data, escaped; a dash when it is missing."""
    return escape("–" if value is None or value != value else str(value))


def _earlier(shown: pd.DataFrame, rows: pd.DataFrame, what: str) -> str:
    hidden = len(rows) - len(shown)
    if hidden <= 0:
        return ""
    return (
        f'<p class="note">{hidden} earlier {what}{"s" if hidden > 1 else ""} not shown: '
        f"the latest {MAX_YEARS} are.</p>"
    )


def _in_pounds(currency: str) -> str:
    if currency == "GBP":
        return ""
    return f" Amounts in {escape(currency)} as the account holds them: a UK return needs pounds."


def wrapper_title(data: AccountData) -> str:
    """How the gains heading names the account's tax wrapper."""
    return "Stocks ISA, free of capital gains tax" if data.wrapper == "isa" else "taxable"


def gains_section(data: AccountData) -> str:
    """Realised gains per UK tax year by share matching, beside the broker's average cost,
    under a line saying whether the account is taxable or an ISA."""
    acc = data.account_id
    wrapper = data.wrapper if data.wrapper in WRAPPERS else "invest"
    out = [
        f'<p class="note" data-testid="gains-wrapper-{acc}" data-wrapper="{escape(wrapper)}">'
        f"{escape(WRAPPERS[wrapper])}</p>"
    ]
    uk = data.gains[data.gains["method"] == "uk"]
    average = data.gains[data.gains["method"] == "average"]
    if uk.empty:
        return out[0] + empty(
            "Nothing sold yet: no disposals, so no realised gains or losses.", f"empty-gains-{acc}"
        )
    for cur, years in uk.groupby("currency", sort=True):
        shown = years.head(MAX_YEARS)
        rows = "".join(
            f'<tr data-year="{_label(r.year)}"><td>{_label(r.year)}</td>'
            f'<td class="num" data-testid="gains-disposals">{r.disposals}</td>'
            + money_cell(r.proceeds, cur, "gains-proceeds")
            + money_cell(r.allowable_costs, cur, "gains-allowable-costs")
            + money_cell(r.gain, cur, "gains-gains")
            + money_cell(r.loss, cur, "gains-losses")
            + money_cell(r.net, cur, "gains-net")
            + "</tr>"
            for r in shown.itertuples()
        )
        head = _head(
            "tax year", "disposals", "proceeds", "allowable costs", "gains", "losses", "net"
        )
        out.append(
            f"<p>In {escape(cur)}:</p>"
            f'<table data-testid="gains-table-{acc}-{escape(cur)}">{head}{rows}</table>'
            + _earlier(shown, years, "tax year")
            + _gains_total(acc, cur, years, average[average["currency"] == cur])
        )
    out.append(
        f'<p class="note" data-testid="gains-method-{acc}">Method: {UK_METHOD}. {TAX_YEARS}; '
        "each disposal's gain or loss is its proceeds less its allowable costs (the matched "
        "purchases' costs and the fees of both sides); net = gains - losses."
        f"{_in_pounds(str(uk['currency'].iloc[0]))}</p>"
    )
    return "".join(out)


def _gains_total(acc: int, cur: str, uk: pd.DataFrame, average: pd.DataFrame) -> str:
    """One line: the net of every tax year, and Trading 212's average-cost net beside it."""
    net = sum(uk["net"], Decimal(0))
    disposals = int(uk["disposals"].sum())
    line = (
        f'<p data-testid="gains-total-{acc}-{escape(cur)}" data-value="{net}">All tax years, '
        f"{disposals} disposal{'s' if disposals != 1 else ''}: net "
        f"<strong>{escape(format_money(net, cur))}</strong> by HMRC share matching."
    )
    if average.empty:
        return line + "</p>"
    broker = sum(average["net"], Decimal(0))
    difference = broker - net
    if difference == 0:
        compared = "the same figure"
    else:
        more = "more" if difference > 0 else "less"
        compared = f"{escape(format_money(abs(difference), cur))} {more}"
    return (
        f"{line} By Trading 212's average cost, the broker's own method (each instrument's "
        "purchases pooled at one average price; fees counted the same way), the net is "
        f'<strong data-testid="gains-average-{acc}-{escape(cur)}" data-value="{broker}">'
        f"{escape(format_money(broker, cur))}</strong>: {compared}.</p>"
    )


def income_section(data: AccountData) -> str:
    """Dividends gross and net of withholding tax, interest and fees per UK tax year."""
    acc = data.account_id
    if data.income_years.empty:
        return empty(
            "No dividends, interest or fees recorded yet in this account.",
            f"empty-income-years-{acc}",
        )
    out = []
    for cur, years in data.income_years.groupby("currency", sort=True):
        shown = years.head(MAX_YEARS)
        rows = "".join(
            f'<tr data-year="{_label(r.tax_year)}"><td>{_label(r.tax_year)}</td>'
            + money_cell(r.gross, cur, "income-gross")
            + money_cell(r.withholding, cur, "income-withholding")
            + money_cell(r.net, cur, "income-net")
            + money_cell(r.interest, cur, "income-interest")
            + money_cell(r.fees, cur, "income-fees")
            + f'<td class="num" data-testid="income-payments">{r.payments}</td></tr>'
            for r in shown.itertuples()
        )
        head = _head(
            "tax year", "dividends gross", "withholding tax", "dividends net", "interest", "fees",
            "dividend payments",
        )  # fmt: skip
        out.append(
            f"<p>In {escape(cur)}:</p>"
            f'<table data-testid="income-years-{acc}-{escape(cur)}">{head}{rows}</table>'
            + _earlier(shown, years, "tax year")
        )
    out.append(
        f'<p class="note">{TAX_YEARS}. Dividends net are what was paid into the account; gross '
        "adds the withholding tax taken at source, which the CSV reports name: a dividend no "
        "imported report covers shows none withheld. Interest is interest on cash; fees are the "
        "taxes and fees of trades and fee transactions. Amounts in the account's currency at "
        "the time of payment, never converted.</p>"
    )
    return "".join(out)


def returns_section(data: AccountData, as_of: datetime) -> str:
    """Time-weighted return per year, money-weighted return and drawdown since inception."""
    acc = data.account_id
    if data.returns.empty:
        return empty(NO_RETURNS, f"empty-returns-{acc}")
    frame = data.returns
    years = frame[frame["period_kind"] == "year"]
    inception = frame[frame["period_kind"] == "inception"]
    out = []
    if len(inception):
        r = inception.iloc[0]
        mwr, drawdown = exact(r["mwr"]), exact(r["max_drawdown"])
        out.append(
            f'<p class="kpi">Since {format_date(r["start_day"])} ({r["days"]} days, to '
            f"{format_date(r['end_day'])}): time-weighted "
            + _strong(r["twr"], f"returns-twr-{acc}")
            + (
                ", money-weighted " + _strong(mwr, f"returns-mwr-{acc}") + " a year"
                if mwr is not None
                else f', <span data-testid="returns-mwr-{acc}">no money-weighted return</span>'
            )
            + ", maximum drawdown "
            + _strong(drawdown, f"returns-drawdown-{acc}")
            + ".</p>"
        )
        if mwr is None:
            out.append(
                '<p class="note">No money-weighted return: no rate solves these cash flows, '
                "or the values span less than two days.</p>"
            )
    shown = years.head(MAX_YEARS)
    rows = "".join(
        f'<tr data-year="{_label(r.period)}"><td>{_label(r.period)}'
        f"{' to date' if r.period == str(as_of.year) else ''}</td>"
        f"<td>{format_date(r.start_day)}</td><td>{format_date(r.end_day)}</td>"
        + money_cell(r.start_value, r.currency, "returns-start-value")
        + money_cell(r.end_value, r.currency, "returns-end-value")
        + money_cell(r.net_flows, r.currency, "returns-net-flows")
        + percent_cell(r.twr, "returns-twr")
        + "</tr>"
        for r in shown.itertuples()
    )
    if rows:
        head = _head(
            "year", "from", "to", "value at start", "value at end",
            "deposits, withdrawals, transfers (net)", "time-weighted", text=3,
        )  # fmt: skip
        out.append(
            f'<table data-testid="returns-table-{acc}">{head}{rows}</table>'
            + _earlier(shown, years, "year")
        )
    out.append(
        f'<p class="note" data-testid="returns-method-{acc}">Methods: {RETURN_METHODS}, '
        "annualised. Time-weighted returns leave deposits, withdrawals and transfers out: a "
        "payment counts from the first value taken after it; the money-weighted return counts "
        "when money came in and went out. The maximum drawdown is the largest fall of the "
        "time-weighted growth from an earlier peak. Values are the account's at each run: the "
        "time between runs is bridged, so a fall between runs can be missed.</p>"
    )
    return "".join(out)


def _strong(ratio, testid: str) -> str:
    ratio = exact(ratio)
    value = "" if ratio is None else f' data-value="{ratio}"'
    return f'<strong data-testid="{escape(testid)}"{value}>{format_percent(ratio)}</strong>'
