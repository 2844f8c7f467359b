"""Value coercion: exact decimals, UTC timestamps, integers, booleans, text, currencies, names."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import pandas as pd
import pyarrow as pa

DECIMAL_PRECISION = 38
DECIMAL_SCALE = 10
MAX_INTEGER_DIGITS = DECIMAL_PRECISION - DECIMAL_SCALE
_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
ARROW_DECIMAL = pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
# wide enough that no DECIMAL(38,10) operand is ever rounded
EXACT = Context(prec=2 * DECIMAL_PRECISION)
_INT64 = (-(2**63), 2**63 - 1)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
# a column's value types, checked at C speed: most columns then need no per-value work
_DECIMAL_TYPES = frozenset({Decimal, type(None)})
_TEXT_TYPES = frozenset({str, type(None)})
# ISO 4217 letters (GBX for pence too), or pence as some price feeds write it, which the
# positions normaliser converts; the same pattern serves Python and Arrow (RE2).
CURRENCY_PATTERN = "[A-Z]{3}|GBp"
_CURRENCY = re.compile(CURRENCY_PATTERN)


def snake_case(name: str) -> str:
    """``availableToTrade`` -> ``available_to_trade``; already snake_case names pass through."""
    return _CAMEL.sub("_", name).lower()


def column_name(path: str) -> str:
    """The column of a dotted path: ``walletImpact.fxRate`` -> ``wallet_impact_fx_rate``."""
    return "_".join(snake_case(part) for part in path.split("."))


def parse_decimal(value: Any) -> Decimal | None:
    """An exact Decimal that fits DECIMAL(38,10), or None; raises ValueError otherwise.

    Floats go through their shortest repr, never their binary expansion. Trailing zeros
    beyond ten places are dropped only when that loses nothing.
    """
    if value is None:
        return None
    kind = type(value)
    if kind is Decimal:
        number = value
    elif kind is int:
        number = Decimal(value)
    elif kind is str or kind is float:
        try:
            number = Decimal(value.strip() if kind is str else repr(value))
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r:.40}") from None
    else:
        raise ValueError(f"not a number: {kind.__name__}")
    if not number.is_finite():
        raise ValueError(f"not finite: {number}")
    exponent = number.as_tuple().exponent
    if not number:
        return number if -DECIMAL_SCALE <= exponent <= 0 else Decimal(0)
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"more than {MAX_INTEGER_DIGITS} integer digits")
    if exponent < -DECIMAL_SCALE:
        exact = number.quantize(_QUANTUM, context=EXACT)
        if exact != number:
            raise ValueError(f"more than {DECIMAL_SCALE} decimal places: {number}")
        number = exact
    return number


def parse_decimals(values: list[Any]) -> tuple[list[Any], dict[int, str]]:
    """``parse_decimal`` over a column, with errors by position instead of raising.

    A column of Decimals that Arrow takes into DECIMAL(38,10) without loss is already
    exact and is returned as it is, which saves the per-value checks.
    """
    if _DECIMAL_TYPES.issuperset(map(type, values)):
        try:
            pa.array(values, type=ARROW_DECIMAL)
            return values, {}
        except (pa.ArrowException, ValueError, TypeError):
            pass
    return coerce_column(values, parse_decimal)


def parse_int(value: Any) -> int | None:
    """A 64-bit integer or None; integral Decimals and digit strings are accepted."""
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        number = value
    elif _is_integral(value):
        number = int(value)
    else:
        raise ValueError(f"not an integer: {value!r:.40}")
    if not _INT64[0] <= number <= _INT64[1]:
        raise ValueError("integer out of 64-bit range")
    return number


def _is_integral(value: Any) -> bool:
    """A digit string or a whole finite Decimal."""
    if type(value) is str:
        return value.strip().lstrip("+-").isdigit()
    return type(value) is Decimal and value.is_finite() and value == value.to_integral_value()


def parse_bool(value: Any) -> bool | None:
    """A boolean or None; ``"true"``/``"false"`` strings are accepted."""
    if value is None or type(value) is bool:
        return value
    if type(value) is str and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ValueError(f"not a boolean: {value!r:.40}")


def parse_text(value: Any) -> str | None:
    """A string or None; integers are written out, anything else is refused."""
    if value is None or type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise ValueError(f"not text: {type(value).__name__}")


def parse_texts(values: list[Any]) -> tuple[list[Any], dict[int, str]]:
    """``parse_text`` over a column, with errors by position instead of raising."""
    if _TEXT_TYPES.issuperset(map(type, values)):
        return values, {}
    return coerce_column(values, parse_text)


def is_currency_code(value: Any) -> bool:
    """Whether ``value`` has the shape of a currency code (ISO letters, or ``GBp``)."""
    return type(value) is str and _CURRENCY.fullmatch(value) is not None


def parse_currency(value: Any) -> str | None:
    """A currency as written, or None.

    Text of another shape (``"string"`` in the API's own examples) is kept as it is, for
    the run to report; only what is not text is refused, as it cannot be stored exactly.
    """
    if value is None or type(value) is str:
        return value
    raise ValueError(f"not a currency code: {type(value).__name__}")


def parse_currencies(values: list[Any]) -> tuple[list[Any], dict[int, str]]:
    """``parse_currency`` over a column, with errors by position instead of raising."""
    if _TEXT_TYPES.issuperset(map(type, values)):
        return values, {}
    return coerce_column(values, parse_currency)


def parse_timestamps(values: Sequence[Any]) -> tuple[pd.DatetimeIndex, dict[int, str]]:
    """Parse ISO 8601 strings (any offset; naive means UTC) to datetime64[us, UTC].

    Returns the parsed values (NaT where missing or unreadable) and the positions
    that could not be read, with a reason.
    """
    prepared = [_timestamp_input(v) for v in values]
    parsed = pd.to_datetime(prepared, utc=True, format="ISO8601", errors="coerce")
    parsed = parsed.as_unit("us")
    errors: dict[int, str] = {}
    if parsed.hasnans:
        for i in (parsed.isna() & pd.notna(pd.Series(values, dtype=object)).to_numpy()).nonzero()[
            0
        ]:
            errors[int(i)] = f"not a timestamp: {values[i]!r:.40}"
    return parsed, errors


def _timestamp_input(value: Any) -> Any:
    """Strings and datetimes pass; naive datetimes are taken as UTC, other kinds become NaT."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def to_utc(value: datetime | str) -> pd.Timestamp:
    """One timestamp in UTC at microsecond resolution (naive means UTC)."""
    parsed, errors = parse_timestamps([value])
    if errors or parsed.isna()[0]:
        raise ValueError(f"not a timestamp: {value!r:.40}")
    return parsed[0]


def utc_date(value: pd.Timestamp) -> date:
    """The calendar date of a UTC timestamp."""
    return value.tz_convert("UTC").date()


def coerce_column(
    values: list[Any], parse: Callable[[Any], Any]
) -> tuple[list[Any], dict[int, str]]:
    """Apply ``parse`` to every value; on failure find the offending positions, never raise."""
    try:
        return [parse(v) for v in values], {}
    except (ValueError, TypeError, ArithmeticError):
        pass
    out: list[Any] = []
    errors: dict[int, str] = {}
    for i, v in enumerate(values):
        try:
            out.append(parse(v))
        except (ValueError, TypeError, ArithmeticError) as exc:
            out.append(None)
            errors[i] = str(exc) or type(exc).__name__
    return out, errors
