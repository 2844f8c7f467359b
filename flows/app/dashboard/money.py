"""Display formatting of exact amounts: money in its currency, percentages and dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF ", "JPY": "¥"}
_CENT = Decimal("0.01")


def format_money(amount: Decimal | None, currency: str) -> str:
    """``amount`` rounded half-even to cents with its currency, e.g. ``£1,234.50``."""
    if amount is None:
        return "–"
    rounded = Decimal(amount).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    digits = f"{abs(rounded):,.2f}"
    symbol = _SYMBOLS.get(currency)
    if symbol is None:
        return f"{sign}{digits} {currency}"
    return f"{sign}{symbol}{digits}"


def format_percent(ratio: Decimal | None) -> str:
    """A ratio as a percentage with two decimals, e.g. ``Decimal('0.0209')`` -> ``2.09%``."""
    if ratio is None:
        return "–"
    value = (Decimal(ratio) * 100).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    return f"{value}%"


def format_change(now: Decimal, before: Decimal) -> str:
    """The relative change from ``before`` to ``now``, or a phrase when it has no meaning."""
    if before == 0:
        return "no income in the twelve months before" if now else "no change"
    ratio = (Decimal(now) - Decimal(before)) / Decimal(before)
    sign = "+" if ratio > 0 else ""
    return f"{sign}{format_percent(ratio)} on the twelve months before"


def format_date(value: date | datetime | None) -> str:
    """An ISO date (UTC for timestamps), or a dash."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat()
    return value.isoformat()


def format_time(value: datetime | None) -> str:
    """A UTC timestamp to the minute, or ``never``."""
    if value is None:
        return "never"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
