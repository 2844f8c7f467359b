"""Value coercion: exact decimals, timestamps in UTC, integers, booleans, text, names."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

from transforms.values import (
    column_name,
    parse_bool,
    parse_decimal,
    parse_decimals,
    parse_int,
    parse_text,
    parse_timestamps,
    snake_case,
    to_utc,
)

D = Decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (D("0E-10"), D("0")),
        (D("17.0000000000"), D("17")),
        (D("1.000000000000000"), D("1")),
        (D("1E+5"), D("100000")),
        ("2.5e-3", D("0.0025")),
        (" -12.34 ", D("-12.34")),
        (7, D("7")),
        (0.1, D("0.1")),
        (
            D("1234567890123456789012345678.0123456789"),
            D("1234567890123456789012345678.0123456789"),
        ),
        (None, None),
    ],
)
def test_parse_decimal_is_exact(raw, expected):
    parsed = parse_decimal(raw)
    assert parsed == expected
    if expected is not None:
        assert type(parsed) is Decimal


def test_float_goes_through_repr_not_binary():
    assert parse_decimal(0.1) == D("0.1") != D(0.1)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (D("1.00000000001"), "decimal places"),
        (D("1E-11"), "decimal places"),
        (D("1E+28"), "integer digits"),
        (D("NaN"), "finite"),
        (float("inf"), "finite"),
        ("twelve", "not a number"),
        (True, "not a number"),
        ([1], "not a number"),
    ],
)
def test_parse_decimal_refuses_what_does_not_fit(raw, reason):
    with pytest.raises(ValueError, match=reason):
        parse_decimal(raw)


def test_parse_decimals_reports_positions_and_keeps_the_rest():
    values, errors = parse_decimals([D("1.5"), D("1E-11"), 3, None, "x"])
    assert values == [D("1.5"), None, D("3"), None, None]
    assert sorted(errors) == [1, 4]


def test_timestamps_with_offsets_and_milliseconds_become_utc():
    parsed, errors = parse_timestamps(
        [
            "2024-03-27T10:15:00Z",
            "2024-03-27T10:15:00.123+03:00",
            "2024-03-27T10:15:00-05:30",
            "2024-03-27T10:15:00",
            datetime(2024, 3, 27, 10, 15),
            None,
        ]
    )
    assert errors == {}
    assert str(parsed.dtype) == "datetime64[us, UTC]"
    assert list(parsed[:5]) == [
        pd.Timestamp("2024-03-27T10:15:00Z"),
        pd.Timestamp("2024-03-27T07:15:00.123Z"),
        pd.Timestamp("2024-03-27T15:45:00Z"),
        pd.Timestamp("2024-03-27T10:15:00Z"),
        pd.Timestamp("2024-03-27T10:15:00Z"),
    ]
    assert pd.isna(parsed[5])


def test_unreadable_timestamps_are_reported():
    _, errors = parse_timestamps(["yesterday", 1711533300000, "2024-03-27T10:15:00Z"])
    assert sorted(errors) == [0, 1]


def test_to_utc_refuses_nonsense():
    assert to_utc(datetime(2024, 1, 1, 3, tzinfo=UTC)) == pd.Timestamp("2024-01-01T03:00Z")
    with pytest.raises(ValueError):
        to_utc("not a time")


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("availableToTrade", "available_to_trade"),
        ("id", "id"),
        ("amountInEuro", "amount_in_euro"),
        ("fxRate", "fx_rate"),
        ("already_snake", "already_snake"),
    ],
)
def test_snake_case(name, snake):
    assert snake_case(name) == snake


def test_column_name_flattens_nested_paths():
    assert column_name("walletImpact.currentValue") == "wallet_impact_current_value"
    assert column_name("instrument.name") == "instrument_name"
    assert column_name("cash.availableToTrade") == "cash_available_to_trade"


def test_parse_int_bool_text():
    assert parse_int(D("42")) == 42
    assert parse_int("17") == 17
    for bad in (D("1.5"), True, 2**63, "x"):
        with pytest.raises(ValueError):
            parse_int(bad)
    assert parse_bool("true") is True
    assert parse_bool(False) is False
    with pytest.raises(ValueError):
        parse_bool(1)
    assert parse_text(12) == "12"
    with pytest.raises(ValueError):
        parse_text(D("1"))
