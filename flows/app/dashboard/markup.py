"""Small pieces of dashboard HTML shared by the sections: empty states and number cells."""

from __future__ import annotations

from decimal import Decimal
from html import escape

import pandas as pd

from flows.app.dashboard.money import format_money, format_percent


def exact(value: object) -> Decimal | None:
    """A Decimal read from the warehouse, or None for a missing value (None, NaN, NA)."""
    if value is None or (not isinstance(value, Decimal) and pd.isna(value)):
        return None
    return Decimal(value)


def empty(message: str, testid: str) -> str:
    """A sentence that stands where a chart or table would be."""
    return f'<p class="empty" data-testid="{escape(testid)}">{escape(message)}</p>'


def _attrs(testid: str, value: Decimal | None) -> str:
    attrs = f' data-testid="{escape(testid)}"' if testid else ""
    return attrs + ("" if value is None else f' data-value="{value}"')


def money_cell(amount, currency: str, testid: str = "") -> str:
    """A right-aligned table cell of ``amount`` in ``currency``, the exact value beside it."""
    amount = exact(amount)
    text = escape(format_money(amount, currency))
    return f'<td class="num"{_attrs(testid, amount)}>{text}</td>'


def percent_cell(ratio, testid: str = "") -> str:
    """A right-aligned table cell of a ratio as a percentage, the exact ratio beside it."""
    ratio = exact(ratio)
    return f'<td class="num"{_attrs(testid, ratio)}>{format_percent(ratio)}</td>'
