"""Properties: any record the API could send either loads exactly or is reported, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.dividends import normalise_dividends
from transforms.frames import to_arrow
from transforms.orders import normalise_orders
from transforms.positions import normalise_positions

WIDE = Context(prec=200)
LIMIT = Decimal(10) ** 28
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def as_decimal(value: object) -> Decimal | None:
    """The number a sent value denotes: floats by their shortest repr, as JSON wrote them."""
    if value is None:
        return None
    return Decimal(repr(value) if isinstance(value, float) else value)


def fits(value: object) -> bool:
    """Whether a number is exactly representable as DECIMAL(38,10)."""
    if value is None:
        return True
    value = as_decimal(value)
    if not value.is_finite() or abs(value) >= LIMIT:
        return False
    return value == value.quantize(Decimal("1E-10"), context=WIDE)


def is_currency(value: object) -> bool:
    """Whether a sent value loads as a currency: any text as written (an odd one is
    reported, not skipped), or nothing."""
    return value is None or type(value) is str


# numbers as the API sends them: long trailing zeros, exponent notation, big and small
numbers = st.one_of(
    st.none(),
    st.builds(
        lambda sign, digits, exponent: Decimal((sign, tuple(digits), exponent)),
        st.integers(0, 1),
        st.lists(st.integers(0, 9), min_size=1, max_size=32),
        st.integers(-14, 6),
    ),
    st.integers(-(10**12), 10**12),
    st.sampled_from([Decimal("0E-10"), Decimal("17.0000000000"), Decimal("NaN"), Decimal("-0")]),
    st.floats(width=64),
    st.sampled_from(["1.5e3", "0.0000000001", "-42", "1e-11"]),
)


@st.composite
def timestamps(draw) -> tuple[str | None, pd.Timestamp | None]:
    """An ISO string with Z, an offset or none (meaning UTC), and the UTC instant it names."""
    if draw(st.integers(0, 9)) == 0:
        return None, None
    instant = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(
        seconds=draw(st.integers(0, 30 * 365 * 86400)), milliseconds=draw(st.integers(0, 999))
    )
    offset = timedelta(minutes=15 * draw(st.integers(-48, 56)))
    style = draw(st.sampled_from(["offset", "Z", "naive"]))
    if style != "offset":
        offset = timedelta(0)
    local = (instant + offset).replace(tzinfo=None)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if draw(st.booleans()):
        text += f".{local.microsecond // 1000:03d}"
    else:
        instant = instant.replace(microsecond=0)
    if style == "Z":
        text += "Z"
    elif style == "offset":
        sign = "-" if offset < timedelta(0) else "+"
        minutes = abs(offset) // timedelta(minutes=1)
        text += f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return text, pd.Timestamp(instant)


texts = st.one_of(
    st.none(), st.sampled_from(["ORDINARY", "GBX", "GBp", "USD", "NEW_VALUE"]), st.text(max_size=8)
)
extras = st.dictionaries(st.sampled_from(["newField", "sector", "flag"]), st.integers(), max_size=2)


def drop_some(draw, record: dict) -> dict:
    """The API may drop any field."""
    dropped = draw(st.sets(st.sampled_from(sorted(record)), max_size=2))
    return {k: v for k, v in record.items() if k not in dropped}


@st.composite
def dividend_items(draw):
    stamp, instant = draw(timestamps())
    record = {
        "reference": draw(st.sampled_from([None, "ref"])),
        "type": draw(texts),
        "paidOn": stamp,
        "amount": draw(numbers),
        "quantity": draw(numbers),
        "grossAmountPerShare": draw(numbers),
        "instrument": {"ticker": "T_EQ", "currency": draw(texts)},
    }
    record = {**drop_some(draw, record), **draw(extras)}
    return record, instant if "paidOn" in record else None


def _check_money(frame: pd.DataFrame, table: str, row: int, sent: dict, columns: dict) -> None:
    """Every money column equals what was sent, in the frame and after Arrow."""
    arrow = to_arrow(frame, table)
    for source, column in columns.items():
        value = sent.get(source)
        expected = as_decimal(value)
        assert frame[column][row] == expected or (expected is None and frame[column][row] is None)
        assert arrow.column(column)[row].as_py() == expected


@pytest.mark.slow  # Hypothesis through the warehouse
@QUICK
@given(
    st.lists(st.integers(0, 10**6), max_size=0).flatmap(
        lambda _: st.lists(dividend_items(), max_size=6)
    )
)
def test_dividends_load_exactly_or_are_reported(items):
    records = []
    for i, (record, _) in enumerate(items):
        if "reference" in record and record["reference"] is not None:
            record["reference"] = f"ref-{i}"
        records.append(record)
    result = normalise_dividends(records, account_id=1)
    frame = result.frames["dividends"]
    money = {
        "amount": "amount",
        "quantity": "quantity",
        "grossAmountPerShare": "gross_amount_per_share",
    }
    for i, (record, instant) in enumerate(items):
        valid = record.get("reference") is not None and all(fits(record.get(k)) for k in money)
        valid = valid and is_currency(record.get("instrument", {}).get("currency"))
        found = frame.index[frame["reference"] == f"ref-{i}"]
        reported = any(f"record {i} " in p for p in result.problems)
        assert valid != reported
        if valid:
            [row] = found
            _check_money(frame, "dividends", row, record, money)
            assert frame["paid_on"][row] == instant or (
                instant is None and pd.isna(frame["paid_on"][row])
            )
        else:
            assert len(found) == 0
    for extra in ("newField", "sector", "flag"):
        assert (extra in result.unknown_fields) == any(extra in r for r in records)


tax_lists = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["FINRA_FEE", "STAMP_DUTY"]),
            "chargedAt": st.just("2024-01-01T00:00:00Z"),
            "quantity": numbers,
        }
    ),
    max_size=2,
)


@st.composite
def order_items(draw):
    stamp, _ = draw(timestamps())
    order = {
        "id": draw(st.integers(1, 10**15)),
        "status": draw(texts),
        "createdAt": stamp,
        "quantity": draw(numbers),
        "value": draw(numbers),
        "limitPrice": draw(numbers),
    }
    order = {**drop_some(draw, order), **draw(extras)}
    fill = None
    if draw(st.booleans()):
        # few fill ids, so the same fill often arrives twice
        fill = {"id": draw(st.integers(1, 4)), "price": draw(numbers)}
        fill["walletImpact"] = {"taxes": draw(tax_lists)}
    return {"order": order, "fill": fill}


@pytest.mark.slow  # Hypothesis through the warehouse
@QUICK
@given(st.lists(order_items(), max_size=6, unique_by=lambda i: i["order"].get("id")))
def test_orders_load_exactly_or_are_reported(items):
    result = normalise_orders(items, account_id=1)
    orders, fills = result.frames["orders"], result.frames["fills"]
    taxes = result.frames["fill_taxes"]
    money = {"quantity": "quantity", "value": "value", "limitPrice": "limit_price"}
    kept_fills: set[int] = set()
    for i, item in enumerate(items):
        order, fill = item["order"], item["fill"]
        order_ok = order.get("id") is not None and all(fits(order.get(k)) for k in money)
        reported = any(f"record {i} " in p for p in result.problems)
        found = orders.index[orders["order_id"] == order.get("id")]
        assert len(found) == (1 if order_ok else 0)
        assert order_ok or reported
        if order_ok:
            _check_money(orders, "orders", found[0], order, money)
        if not order_ok or fill is None or fill["id"] in kept_fills:
            continue
        fill_ok = fits(fill["price"])
        assert fill_ok or reported
        if not fill_ok:
            continue
        kept_fills.add(fill["id"])
        [row] = fills.index[fills["fill_id"] == fill["id"]]
        assert fills["order_id"][row] == order["id"]
        _check_money(fills, "fills", row, fill, {"price": "price"})
        sent = fill["walletImpact"]["taxes"]
        loaded = taxes[taxes["fill_id"] == fill["id"]]
        assert set(loaded["name"]) <= {t["name"] for t in sent}
        assert set(loaded["name"]) == {t["name"] for t in sent} or reported
        for _, tax in loaded.iterrows():
            first_fitting = next(
                t for t in sent if t["name"] == tax["name"] and fits(t["quantity"])
            )
            assert tax["quantity"] == as_decimal(first_fitting["quantity"])
    assert set(fills["fill_id"]) == kept_fills
    assert set(taxes["fill_id"]) <= kept_fills
    for name, frame in result.frames.items():
        to_arrow(frame, name)


@st.composite
def position_items(draw):
    currency = draw(st.sampled_from(["GBX", "GBp", "USD", None]))
    record = {
        "instrument": {"ticker": draw(st.sampled_from(["A_EQ", None])), "currency": currency},
        "averagePricePaid": draw(numbers),
        "currentPrice": draw(numbers),
    }
    return record


@QUICK
@given(position_items())
def test_positions_major_prices_are_exact(record):
    result = normalise_positions([record], account_id=1, snapshot_at="2024-01-01T00:00:00Z")
    frame = result.frames["positions"]
    minor = record["instrument"]["currency"] in ("GBX", "GBp")
    prices = (record["averagePricePaid"], record["currentPrice"])
    shift = -2 if minor else 0
    majors = [None if p is None else as_decimal(p).scaleb(shift, context=WIDE) for p in prices]
    ok = record["instrument"]["ticker"] is not None and all(map(fits, (*prices, *majors)))
    assert len(frame) == (1 if ok else 0)
    assert ok != bool(result.problems)
    if ok:
        arrow = to_arrow(frame, "positions")
        assert arrow.column("average_price_paid_major")[0].as_py() == majors[0]
        assert arrow.column("current_price_major")[0].as_py() == majors[1]
        assert arrow.column("current_price")[0].as_py() == as_decimal(prices[1])
