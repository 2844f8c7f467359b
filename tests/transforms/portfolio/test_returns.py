"""Account returns: TWR, XIRR and drawdown by month, year and inception, against hand figures."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from transforms.catalogue import table
from transforms.frames import frame_columns, to_arrow
from transforms.portfolio.returns import compute_returns

D = Decimal
QUICK = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def values(*pairs, account=1, currency="GBP"):
    """(day, value) pairs as the engine's value tuples."""
    return [(account, day, D(str(value)), currency) for day, value in pairs]


def flows(*pairs, account=1):
    return [(account, day, D(str(amount))) for day, amount in pairs]


def rows(frame, kind=None):
    """The frame's rows as dicts keyed by (account_id, period) for one kind, or all."""
    chosen = frame if kind is None else frame[frame.period_kind == kind]
    return {(r["account_id"], r["period"]): r for r in chosen.to_dict("records")}


def only(frame, kind, period, account=1):
    return rows(frame, kind)[(account, period)]


def test_columns_are_the_declared_ones_and_load_exactly():
    v = values((date(2026, 3, 2), 1000), (date(2026, 3, 10), 1100), (date(2026, 4, 1), 1210))
    frame = compute_returns(v, [])
    assert list(frame.columns) == frame_columns(table("returns"))
    assert str(frame.account_id.dtype) == "Int64" and str(frame.days.dtype) == "Int64"
    assert list(zip(frame.period_kind, frame.period, strict=True)) == [
        ("month", "2026-03"),
        ("month", "2026-04"),
        ("year", "2026"),
        ("inception", "inception"),
    ]
    arrow = to_arrow(frame, "returns")
    assert arrow.column("twr").to_pylist() == [D("0.1"), D("0.1"), D("0.21"), D("0.21")]
    assert arrow.column("start_day").to_pylist()[1] == date(2026, 3, 10)


def test_no_input_gives_the_declared_empty_frame():
    frame = compute_returns([], flows((date(2026, 1, 5), 100)))
    assert frame.empty and list(frame.columns) == frame_columns(table("returns"))


def test_without_flows_twr_is_end_over_start_and_mwr_annualises_it():
    v = values((date(2026, 3, 2), 1000), (date(2026, 3, 10), 1100), (date(2026, 3, 20), 990))
    frame = compute_returns(v, [])
    month = only(frame, "month", "2026-03")
    assert month["twr"] == D("-0.01")
    assert (month["start_day"], month["end_day"], month["days"]) == (
        date(2026, 3, 2),
        date(2026, 3, 20),
        18,
    )
    assert (month["start_value"], month["end_value"], month["net_flows"]) == (1000, 990, 0)
    assert month["max_drawdown"] == D("-0.1")  # 1100 -> 990
    assert month["mwr"] is None  # an annualised rate over a month misleads
    assert month["currency"] == "GBP"
    year = only(frame, "year", "2026")
    assert year["twr"] == D("-0.01")
    assert float(year["mwr"]) == pytest.approx(0.99 ** (365 / 18) - 1, abs=1e-9)
    assert only(frame, "inception", "inception")["mwr"] == year["mwr"]


def test_a_deposit_is_not_return():
    v = values((date(2026, 3, 1), 1000), (date(2026, 3, 10), 1500))
    frame = compute_returns(v, flows((date(2026, 3, 5), 500)))
    assert only(frame, "month", "2026-03")["twr"] == 0
    assert only(frame, "month", "2026-03")["net_flows"] == 500
    # 1000 -> deposit 500 -> 1650 (+15%) -> 1815 (+10%); the value alone says +81.5%
    v = values((date(2026, 3, 1), 1000), (date(2026, 3, 10), 1650), (date(2026, 3, 20), 1815))
    frame = compute_returns(v, flows((date(2026, 3, 5), 500)))
    assert only(frame, "month", "2026-03")["twr"] == D("0.265")


def test_a_flow_on_a_valuation_day_is_taken_at_the_end_of_that_day():
    v = values((date(2026, 3, 1), 1000), (date(2026, 3, 10), 1650), (date(2026, 3, 20), 1815))
    frame = compute_returns(v, flows((date(2026, 3, 10), 500)))
    assert only(frame, "month", "2026-03")["twr"] == D("0.265")
    frame = compute_returns(v, flows((date(2026, 3, 11), 500)))
    # now in the second sub-period: 1650/1000, (1815 - 500)/1650
    expected = D(1650) / 1000 * ((D(1815) - 500) / 1650) - 1
    assert only(frame, "month", "2026-03")["twr"] == expected.quantize(D("1e-10"))


def test_a_withdrawal_is_not_a_loss():
    v = values((date(2026, 3, 1), 1000), (date(2026, 3, 31), 770))
    frame = compute_returns(v, flows((date(2026, 3, 15), -300)))
    month = only(frame, "month", "2026-03")
    assert (month["twr"], month["net_flows"], month["max_drawdown"]) == (D("0.07"), -300, 0)


def test_a_sub_period_from_an_empty_account_is_skipped():
    v = values(
        (date(2026, 3, 1), 0),
        (date(2026, 3, 2), 1000),  # deposited from nothing: no return
        (date(2026, 3, 3), 1100),  # +10%
        (date(2026, 3, 4), 0),  # all withdrawn: 0%
        (date(2026, 3, 5), 0),  # empty to empty
        (date(2026, 3, 6), 500),  # deposited again into nothing
        (date(2026, 3, 7), 550),  # +10%
    )
    cash = flows((date(2026, 3, 2), 1000), (date(2026, 3, 4), -1100), (date(2026, 3, 6), 500))
    month = only(compute_returns(v, cash), "month", "2026-03")
    assert month["twr"] == D("0.21")
    assert (month["start_value"], month["net_flows"], month["max_drawdown"]) == (0, 400, 0)


def test_gaps_between_valuations_fall_in_the_period_of_their_end():
    v = values((date(2026, 1, 31), 100), (date(2026, 3, 15), 120), (date(2026, 3, 31), 132))
    frame = compute_returns(v, flows((date(2026, 2, 10), 10)))
    assert set(rows(frame, "month")) == {(1, "2026-03")}  # January and February: no sub-period
    march = only(frame, "month", "2026-03")
    assert (march["start_day"], march["start_value"], march["days"]) == (date(2026, 1, 31), 100, 59)
    assert (march["twr"], march["net_flows"]) == (D("0.21"), 10)  # (120-10)/100, 132/120


def test_flows_outside_the_valued_span_are_left_out():
    v = values((date(2026, 3, 1), 1000), (date(2026, 3, 31), 1100))
    cash = flows((date(2026, 2, 1), 1000), (date(2026, 3, 1), 50), (date(2026, 4, 1), 70))
    month = only(compute_returns(v, cash), "month", "2026-03")
    assert (month["twr"], month["net_flows"]) == (D("0.1"), 0)


def test_months_and_years_split_at_their_boundaries():
    v = values(
        (date(2025, 12, 1), 100),
        (date(2025, 12, 31), 110),
        (date(2026, 1, 15), 121),
        (date(2026, 2, 1), D("133.1")),
    )
    frame = compute_returns(v, [])
    assert list(frame.period) == ["2025-12", "2026-01", "2026-02", "2025", "2026", "inception"]
    assert set(frame.twr[frame.period_kind == "month"]) == {D("0.1")}
    jan = only(frame, "month", "2026-01")
    assert (jan["start_day"], jan["start_value"], jan["end_day"]) == (
        date(2025, 12, 31),
        110,
        date(2026, 1, 15),
    )
    y2025, y2026 = only(frame, "year", "2025"), only(frame, "year", "2026")
    assert (y2025["end_day"], y2025["twr"]) == (date(2025, 12, 31), D("0.1"))
    assert (y2026["start_day"], y2026["start_value"], y2026["twr"]) == (
        date(2025, 12, 31),
        110,
        D("0.21"),
    )
    whole = only(frame, "inception", "inception")
    assert (whole["start_day"], whole["days"], whole["twr"]) == (date(2025, 12, 1), 62, D("0.331"))


def test_excel_xirr_example():
    # Excel's XIRR example: -10,000 on 2008-01-01, then 2,750, 4,250, 3,250, 2,750
    v = values((date(2008, 1, 1), 10000), (date(2009, 4, 1), 2750))
    cash = flows((date(2008, 3, 1), -2750), (date(2008, 10, 30), -4250), (date(2009, 2, 15), -3250))
    frame = compute_returns(v, cash)
    whole = only(frame, "inception", "inception")
    # Excel shows 0.373362535 (Newton stopped at its tolerance); the root is 0.37336253352
    assert abs(whole["mwr"] - D("0.373362535")) < D("2e-9")
    assert whole["mwr"] == D("0.3733625335")
    dated = [(date(2008, 1, 1), -10000), *((d, -a) for _, d, a in cash), (date(2009, 4, 1), 2750)]
    rate = float(whole["mwr"])
    npv = sum(float(a) / (1 + rate) ** ((d - dated[0][0]).days / 365) for d, a in dated)
    assert abs(npv) < 1e-4
    assert whole["twr"] == D("0.3")  # (2750 + 10250) / 10000: one sub-period
    assert only(frame, "year", "2009")["mwr"] == whole["mwr"]  # 2009 starts on 2008-01-01
    assert set(frame.period) == {"2009-04", "2009", "inception"}


def test_mwr_weights_money_by_time_and_twr_does_not():
    # 1000 for two years at 10%, plus 1000 for the second: 1000 * 1.21 + 1000 * 1.1 = 2310
    v = values((date(2021, 1, 1), 1000), (date(2023, 1, 1), 2310))
    whole = only(compute_returns(v, flows((date(2022, 1, 1), 1000))), "inception", "inception")
    assert whole["mwr"] == D("0.1")
    assert whole["twr"] == D("0.31")  # the deposit taken at the end of the only sub-period


def test_mwr_is_null_without_a_solution_or_over_a_day():
    v = values((date(2026, 3, 1), 100), (date(2026, 3, 31), 0))
    whole = only(compute_returns(v, []), "inception", "inception")
    assert whole["mwr"] is None  # everything lost: no finite rate
    assert (whole["twr"], whole["max_drawdown"]) == (-1, -1)
    v = values((date(2026, 3, 1), 100), (date(2026, 3, 2), 101))
    assert only(compute_returns(v, []), "year", "2026")["mwr"] is None
    v = values((date(2026, 3, 1), 100), (date(2026, 3, 3), 101))
    assert only(compute_returns(v, []), "year", "2026")["mwr"] is not None


def test_drawdown_on_a_known_series():
    days = [date(2026, 3, d) for d in range(1, 6)]
    frame = compute_returns(values(*zip(days, [100, 120, 90, 130, 104], strict=True)), [])
    assert only(frame, "inception", "inception")["max_drawdown"] == D("-0.25")  # 120 -> 90
    # the same returns with a deposit of 1000 before day 4: the value jumps, the index not
    v = values(*zip(days, [100, 120, 90, 1130, 904], strict=True))
    frame = compute_returns(v, flows((days[3], 1000)))
    assert only(frame, "inception", "inception")["max_drawdown"] == D("-0.25")
    # a withdrawal halves the value but loses nothing
    v = values(*zip(days[:4], [100, 120, 60, 66], strict=True))
    frame = compute_returns(v, flows((days[2], -60)))
    assert only(frame, "inception", "inception")["max_drawdown"] == 0


def test_drawdown_peaks_are_taken_within_the_period():
    v = values(
        (date(2026, 2, 1), 100),
        (date(2026, 2, 10), 150),
        (date(2026, 2, 28), 120),
        (date(2026, 3, 10), 90),
        (date(2026, 3, 20), 100),
    )
    frame = compute_returns(v, [])
    assert only(frame, "month", "2026-02")["max_drawdown"] == D("-0.2")  # 150 -> 120
    assert only(frame, "month", "2026-03")["max_drawdown"] == D("-0.25")  # from 120 to 90
    assert only(frame, "inception", "inception")["max_drawdown"] == D("-0.4")  # 150 -> 90


def test_exact_decimal_arithmetic_leaves_no_residue():
    v = values((date(2026, 3, 1), 3), (date(2026, 3, 2), 1), (date(2026, 3, 3), 3))
    month = only(compute_returns(v, []), "month", "2026-03")
    assert month["twr"] == 0 and not month["twr"].is_signed()
    assert month["max_drawdown"] == D("-0.6666666667")


def test_several_accounts_are_independent_of_each_other_and_of_order():
    one = values((date(2026, 3, 1), 1000), (date(2026, 3, 10), 1650), (date(2026, 4, 2), 1815))
    two = values((date(2025, 6, 1), 50), (date(2026, 3, 31), 40), account=2, currency="EUR")
    single = values((date(2026, 3, 1), 7), account=4)  # one valuation: nothing to measure
    cash = flows((date(2026, 3, 5), 500)) + flows((date(2026, 1, 1), -20), account=2)
    cash += flows((date(2026, 3, 5), 999), account=3)  # flows without values: no rows
    mixed = one + two + single
    random.Random(3).shuffle(mixed)
    frame = compute_returns(mixed, reversed(cash))
    assert list(dict.fromkeys(frame.account_id)) == [1, 2]
    alone = compute_returns(one, flows((date(2026, 3, 5), 500)))
    assert frame[frame.account_id == 1].reset_index(drop=True).equals(alone)
    second = only(frame, "inception", "inception", account=2)
    assert (second["twr"], second["net_flows"], second["currency"]) == (D("0.2"), -20, "EUR")


def test_contradictory_values_are_refused():
    with pytest.raises(ValueError, match="two values"):
        compute_returns(values((date(2026, 3, 1), 1), (date(2026, 3, 1), 2)), [])
    mixed = values((date(2026, 3, 1), 1)) + values((date(2026, 3, 2), 1), currency="EUR")
    with pytest.raises(ValueError, match="GBP and EUR"):
        compute_returns(mixed, [])
    unnamed = values((date(2026, 3, 1), 1), currency=None) + values((date(2026, 3, 2), 2))
    assert set(compute_returns(unnamed, []).currency) == {"GBP"}


@st.composite
def accounts(draw, with_flows=True):
    """One account: values on random days over about two years, with random flows."""
    day, value = date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 400))), D(1000)
    valued, cash = [(day, value)], []
    for _ in range(draw(st.integers(1, 60))):
        day += timedelta(days=draw(st.integers(1, 40)))
        value = value * D(draw(st.integers(80, 125))) / 100
        if with_flows and draw(st.booleans()):
            amount = D(draw(st.integers(-1500, 1500)))
            cash.append((day - timedelta(days=draw(st.integers(0, 5))), amount))
            value = max(value + amount, D(0))
        valued.append((day, value.quantize(D("0.01"))))
    return values(*valued), flows(*cash)


def _linked(parts, whole):
    """Whether 1 + whole lies within the rounding (ten places) of the product of 1 + parts."""
    half = 5e-11
    low = math.prod(max(1 + float(p) - half, 0) for p in parts)
    high = math.prod(1 + float(p) + half for p in parts)
    return low * (1 - 1e-12) - half <= 1 + float(whole) <= high * (1 + 1e-12) + half


@QUICK
@given(accounts())
def test_periods_chain_link_into_each_other(account):
    frame = compute_returns(*account)
    assert frame.max_drawdown.map(lambda d: -1 <= d <= 0).all()
    spans = zip(frame.start_day, frame.end_day, strict=True)
    assert (frame.days == [(end - start).days for start, end in spans]).all()
    assert frame.mwr[frame.period_kind == "month"].isna().all()
    months, years = rows(frame, "month"), rows(frame, "year")
    for (_, year), row in years.items():
        inside = [m for (_, period), m in months.items() if period.startswith(year)]
        assert _linked([m["twr"] for m in inside], row["twr"])
        assert row["net_flows"] == sum(m["net_flows"] for m in inside)
        assert row["max_drawdown"] <= min(m["max_drawdown"] for m in inside)
        assert (row["start_day"], row["end_day"]) == (inside[0]["start_day"], inside[-1]["end_day"])
    whole = only(frame, "inception", "inception")
    assert _linked([y["twr"] for y in years.values()], whole["twr"])
    assert whole["net_flows"] == sum(y["net_flows"] for y in years.values())


@QUICK
@given(accounts(with_flows=False))
def test_without_flows_mwr_compounds_to_twr(account):
    frame = compute_returns(*account)
    compared = 0
    for row in frame[frame.period_kind != "month"].to_dict("records"):
        if row["start_value"] <= 0 or row["days"] < 2:
            continue
        growth = float(row["end_value"] / row["start_value"])
        if not -0.5 < growth ** (365 / row["days"]) - 1 < 1e8:  # r within a sane range
            continue
        assert row["mwr"] is not None
        compounded = (1 + float(row["mwr"])) ** (row["days"] / 365)
        assert compounded == pytest.approx(1 + float(row["twr"]), rel=1e-7)
        compared += 1
    # an account with no period to compare proves nothing: Hypothesis draws another (and
    # fails the test if it cannot find enough that compare at least one row)
    assume(compared > 0)


def test_days_are_utc_calendar_days_between_valuation_instants():
    # 26 hours from 23:00 on the 1st to 01:00 on the 3rd: two calendar days, not one
    late = datetime(2024, 1, 1, 23, tzinfo=UTC)
    early = datetime(2024, 1, 3, 1, tzinfo=UTC)
    frame = compute_returns([(1, late, D(100), "GBP"), (1, early, D(110), "GBP")], [])
    whole = only(frame, "inception", "inception")
    assert (whole["start_day"], whole["end_day"], whole["days"]) == (
        date(2024, 1, 1), date(2024, 1, 3), 2)  # fmt: skip
    assert float(whole["mwr"]) == pytest.approx(1.1 ** (365 / 2) - 1, rel=1e-9)


def test_a_flow_between_two_valuations_of_one_day_falls_between_them():
    times = [datetime(2025, 3, 1, h, 30, tzinfo=UTC) for h in (2, 12, 20)]
    v = [(1, t, D(x), "GBP") for t, x in zip(times, (100, 150, 165), strict=True)]
    cash = [(1, datetime(2025, 3, 1, 9, tzinfo=UTC), D(50))]
    month = only(compute_returns(v, cash), "month", "2025-03")
    assert (month["twr"], month["net_flows"], month["start_value"]) == (D("0.1"), 50, 100)
    # and one at the very instant of a valuation is in that valuation already
    cash = [(1, times[1], D(50))]
    assert only(compute_returns(v, cash), "month", "2025-03")["twr"] == D("0.1")
