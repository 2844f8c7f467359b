"""The dashboard's charts as plotly figures, built from the query frames of one currency."""

from __future__ import annotations

from datetime import datetime
from html import escape

import pandas as pd
import plotly.graph_objects as go

from flows.app.dashboard.queries import MONTHS, month_start

TOP_PAYERS = 8
TOP_HOLDINGS = 15
OTHERS = "Others"
CASH_FLOW_LABELS = {
    "DEPOSIT": "Deposits",
    "INTEREST": "Interest on cash (from reports)",
    "INTEREST_LIKE": "Small deposits (probably interest, estimated)",
    "WITHDRAW": "Withdrawals",
    "FEE": "Fees",
    "TRANSFER": "Transfers",
}


def _escape(text: object) -> str:
    """``text`` for a chart, to be shown as written.

    Plotly reads tags (``<b>``, ``<a href>``, ``<br>``) and entities in every chart
    text it draws, so tickers, names and currencies from the API are escaped once.
    """
    return escape(str(text), quote=False)


def _layout(fig: go.Figure, title: str, currency: str | None = None, **extra) -> go.Figure:
    """Common layout; ``title`` and ``currency`` are plain text."""
    layout = {
        "title": {"text": _escape(title), "x": 0, "font": {"size": 15}},
        "template": "plotly_white",
        "height": 380,
        "margin": {"l": 60, "r": 30, "t": 50, "b": 40},
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "legend": {"orientation": "h", "y": -0.15},
    }
    fig.update_layout(**{**layout, **extra})
    if currency:
        fig.update_yaxes(title_text=_escape(currency), tickformat=",.0f")
    return fig


def _month_axis(as_of: datetime, months: int = MONTHS) -> list[str]:
    return [month_start(as_of, back).strftime("%Y-%m") for back in range(months - 1, -1, -1)]


def dividend_months(
    monthly: pd.DataFrame, totals: pd.DataFrame, currency: str, as_of: datetime
) -> go.Figure:
    """Stacked monthly income by the largest payers over 24 months, with the trailing 12 months."""
    axis = _month_axis(as_of)
    data = monthly.assign(month=monthly["month"].map(lambda d: d.strftime("%Y-%m")))
    ranking = data.groupby("ticker")["amount"].sum().sort_values(ascending=False)
    top = list(ranking.index[:TOP_PAYERS])
    data["payer"] = data["ticker"].where(data["ticker"].isin(top), OTHERS)
    by_payer = data.groupby(["payer", "month"])["amount"].sum()
    fig = go.Figure()
    for payer in [*top, OTHERS] if len(ranking) > len(top) else top:
        values = [float(by_payer.get((payer, m), 0)) for m in axis]
        fig.add_bar(name=_escape(payer), x=axis, y=values)
    monthly_totals = totals.assign(month=totals["month"].map(lambda d: d.strftime("%Y-%m")))
    full = _month_axis(as_of, MONTHS + 11)
    series = monthly_totals.set_index("month")["amount"].reindex(full, fill_value=0)
    rolling = series.map(float).rolling(12).sum().loc[axis]
    fig.add_scatter(
        name="Trailing 12 months (right axis)",
        x=axis,
        y=list(rolling),
        yaxis="y2",
        mode="lines+markers",
        line={"color": "#222", "width": 2},
    )
    fig = _layout(
        fig,
        f"Dividend income per month, {currency}",
        currency,
        barmode="stack",
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "tickformat": ",.0f",
            "showgrid": False,
            "rangemode": "tozero",
        },
    )
    return fig


def allocation_by_instrument(allocation: pd.DataFrame, currency: str) -> go.Figure:
    """Horizontal bars of the largest holdings by current value, the rest grouped."""
    ordered = allocation.sort_values("value", ascending=False)
    head = ordered.iloc[:TOP_HOLDINGS]
    labels = [_escape(f"{t} {n}"[:40]) for t, n in zip(head["ticker"], head["name"], strict=True)]
    values = [float(v) for v in head["value"]]
    if len(ordered) > TOP_HOLDINGS:
        labels.append(f"{OTHERS} ({len(ordered) - TOP_HOLDINGS})")
        values.append(float(ordered["value"].iloc[TOP_HOLDINGS:].sum()))
    fig = go.Figure(go.Bar(x=values[::-1], y=labels[::-1], orientation="h", name="value"))
    fig = _layout(fig, f"Holdings by current value, {currency}", height=max(300, 26 * len(labels)))
    fig.update_xaxes(title_text=_escape(currency), tickformat=",.0f")
    return fig


def allocation_pie(allocation: pd.DataFrame, column: str, title: str) -> go.Figure:
    """A donut of the current value grouped by ``column``."""
    grouped = allocation.groupby(column)["value"].sum().sort_values(ascending=False)
    fig = go.Figure(
        go.Pie(
            labels=[_escape(label) for label in grouped.index],
            values=[float(v) for v in grouped],
            hole=0.45,
        )
    )
    return _layout(fig, title, height=320)


def value_over_time(history: pd.DataFrame, currency: str) -> go.Figure:
    """Account value and invested amount (cost of holdings) from the daily snapshots."""
    dates = [d.isoformat() for d in history["date"]]
    fig = go.Figure()
    for column, name in (
        ("total_value", "Account value"),
        ("investments_current_value", "Holdings value"),
        ("investments_total_cost", "Invested (cost of holdings)"),
    ):
        values = [None if pd.isna(v) else float(v) for v in history[column]]  # None: a gap
        fig.add_scatter(x=dates, y=values, name=name, mode="lines+markers")
    return _layout(fig, f"Account value and invested amount, {currency}", currency)


def cash_flows(flows: pd.DataFrame, currency: str, as_of: datetime) -> go.Figure:
    """Deposits, withdrawals, fees, transfers and interest-like deposits per month."""
    axis = _month_axis(as_of)
    data = flows.assign(month=flows["month"].map(lambda d: d.strftime("%Y-%m")))
    amounts = data.groupby(["kind", "month"])["amount"].sum()
    fig = go.Figure()
    kinds = [k for k in CASH_FLOW_LABELS if k in set(data["kind"])]
    kinds += sorted(set(data["kind"]) - set(CASH_FLOW_LABELS))
    for kind in kinds:
        values = [float(amounts.get((kind, m), 0)) for m in axis]
        fig.add_bar(name=_escape(CASH_FLOW_LABELS.get(kind, kind.title())), x=axis, y=values)
    return _layout(fig, f"Cash in and out per month, {currency}", currency, barmode="relative")
