"""Account returns: time- and money-weighted returns and drawdowns by month, year and inception.

Definitions (the rows of table ``returns``):

Sub-periods. An account's valuation days d_0 < d_1 < ... (days whose end-of-day total
value V is known; gaps are normal) cut its history into sub-periods (d_{i-1}, d_i]. F_i
is the sum of the external flows dated in that interval (deposits positive, withdrawals
negative; dividends and interest are return, not flows), taken at its end. Flows on or
before d_0 are in V_0 already and flows after the last valuation are not valued yet:
both are left out.

Time-weighted return (``twr``). r_i = (V_i - F_i) / V_{i-1} - 1, chain-linked: a period's
TWR is the product of (1 + r_i) - 1 over the sub-periods ending in it. A sub-period that
starts from a value of 0 or less (the account was empty) has no return and is skipped,
the next starts from its value; so is one whose value net of its flows is negative (a
valuation that missed a flow: an account cannot lose more than it holds). Exact Decimal
arithmetic in a 60-digit context, quantized to 10 places.

Periods. A sub-period belongs to the month and the year of its end day, and to
``inception``; a period has a row when a sub-period ends in it (an account with a single
valuation has none). ``start_day``/``start_value``: the valuation its first sub-period
starts from (the previous valuation day, which may lie in an earlier period; d_0 for the
account's first); ``end_day``/``end_value``: its last valuation; ``days`` = end_day -
start_day; ``net_flows``: the sum of its F_i.

Money-weighted return (``mwr``, years and inception only: an annualised rate over a month
misleads, so months have None). XIRR as spreadsheets compute it, actual/365:
sum_k c_k (1 + r)^(-(t_k - start_day) / 365) = 0 with c = -start_value at start_day,
-amount for every flow at its own day and +end_value at end_day. Solved on x = ln(1 + r):
a bracket is widened around 10% (the spreadsheets' guess) until the sign changes, within
r in (-1 + 1e-9, 1e9), then narrowed by bisection and by false position (Illinois) to
float resolution; of several roots, the one found is the first sign change met widening
from the guess. None when no sign change is found in that range (no solution) or when the
period is shorter than MIN_MWR_DAYS days.

Maximum drawdown (``max_drawdown``). From the period's TWR index W (1 at its start, times
(1 + r_i) after each sub-period), not the raw value that deposits distort: the minimum of
W_t / max_{s<=t} W_s - 1 with the peak taken within the period, a fraction in [-1, 0].
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Context, Decimal, localcontext
from operator import itemgetter

import pandas as pd

from transforms.catalogue import table
from transforms.frames import empty_frame, frame_columns

MIN_MWR_DAYS = 2
_CONTEXT = Context(prec=60)
_PLACES = Decimal("1e-10")
_ZERO = Decimal(0)
_ONE = Decimal(1)
_X_LOW, _X_HIGH = math.log(1e-9), math.log1p(1e9)  # ln(1 + r) for r in (-1 + 1e-9, 1e9)
_X_GUESS = math.log1p(0.1)
_FIRST_STEP = 0.05
_NARROW = 1e-3  # bracket width in x below which one scale serves it
_RESOLUTION = 1e-15
_MAX_STEPS = 200
_DAY = itemgetter(0)


def compute_returns(
    values: Iterable[tuple[int, date, Decimal, str]],
    flows: Iterable[tuple[int, date, Decimal]],
) -> pd.DataFrame:
    """Rows of table ``returns`` (without load metadata) for every account with values.

    ``values``: (account_id, day, total value at the end of that day, account currency),
    one per account and day, any order; ``flows``: (account_id, day, amount), deposits
    positive. Rows come by account, then months, years and inception, each in date order.
    Raises ValueError for two values of an account on one day or in two currencies (a
    value without currency contradicts none).
    """
    series: dict[int, dict[date, Decimal]] = defaultdict(dict)
    currencies: dict[int, str] = {}
    for account_id, day, value, currency in values:
        days = series[account_id]
        if day in days:
            raise ValueError(f"account {account_id}: two values on {day}")
        days[day] = value
        if currency is not None and currencies.setdefault(account_id, currency) != currency:
            known = currencies[account_id]
            raise ValueError(f"account {account_id}: values in {known} and {currency}")
    cash: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for account_id, day, amount in flows:
        cash[account_id].append((day, amount))
    rows: list[tuple] = []
    with localcontext(_CONTEXT):
        for account_id in sorted(series):
            valued = sorted(series[account_id].items())
            dated = sorted(cash.get(account_id, ()), key=_DAY)
            rows += _account_rows(account_id, valued, dated, currencies.get(account_id))
    if not rows:
        return empty_frame("returns")
    target = table("returns")
    names = frame_columns(target)
    frame = pd.DataFrame.from_records(rows, columns=names)
    return frame.astype({name: target.column(name).logical.frame_dtype for name in names})


class _Period:
    """One period being accumulated: its ends, flows, TWR index, peak and lowest W/peak."""

    __slots__ = ("cash", "end_day", "end_value", "flows", "index", "kind", "label")
    __slots__ += ("peak", "start_day", "start_value", "trough")

    def __init__(self, kind: str, label: str, day: date, value: Decimal, mwr: bool) -> None:
        self.kind, self.label = kind, label
        self.start_day = self.end_day = day
        self.start_value = self.end_value = value
        self.flows = _ZERO
        self.index = self.peak = self.trough = _ONE
        self.cash: list[tuple[date, Decimal]] | None = [] if mwr else None

    def add(
        self,
        day: date,
        value: Decimal,
        flow: Decimal,
        growth: Decimal | None,
        dated: list[tuple[date, Decimal]],
    ) -> None:
        """Take the sub-period ending on ``day`` with its flows and growth (None: skipped)."""
        self.end_day, self.end_value = day, value
        if dated:
            self.flows += flow
            if self.cash is not None:
                self.cash += dated
        if growth is not None:
            index = self.index = self.index * growth
            peak = self.peak
            if index > peak:
                self.peak = index
            elif index < peak * self.trough:  # a product first: dividing costs more
                self.trough = min(self.trough, index / peak)

    def row(self, account_id: int, currency: str | None) -> tuple:
        days = (self.end_day - self.start_day).days
        mwr = None
        if self.cash is not None and days >= MIN_MWR_DAYS:
            points = [(0.0, -float(self.start_value))]
            points += [((d - self.start_day).days / 365, -float(a)) for d, a in self.cash]
            points.append((days / 365, float(self.end_value)))
            mwr = _xirr(points)
        return (
            account_id,
            self.kind,
            self.label,
            self.start_day,
            self.end_day,
            self.start_value,
            self.end_value,
            self.flows,
            _rounded(self.index - _ONE),
            mwr,
            _rounded(self.trough - _ONE),
            days,
            currency,
        )


def _rounded(number: Decimal) -> Decimal:
    """``number`` to ten places, a rounded-off negative zero as zero."""
    return number.quantize(_PLACES) + _ZERO


def _account_rows(
    account_id: int,
    valued: list[tuple[date, Decimal]],
    dated: list[tuple[date, Decimal]],
    currency: str | None,
) -> list[tuple]:
    """The month, year and inception rows of one account (values and flows sorted by day)."""
    previous_day, previous_value = valued[0]
    inception = _Period("inception", "inception", previous_day, previous_value, mwr=True)
    months: list[tuple] = []
    years: list[tuple] = []
    month = year = None
    k = bisect_right(dated, previous_day, key=_DAY)  # flows on or before d_0 are in V_0
    for day, value in valued[1:]:
        end = k
        while end < len(dated) and dated[end][0] <= day:
            end += 1
        inside = dated[k:end] if end > k else []
        flow = sum((a for _, a in inside), _ZERO) if inside else _ZERO
        k = end
        net = value - flow
        growth = net / previous_value if previous_value > 0 and net >= 0 else None
        if month is None or day.month != month.end_day.month or day.year != month.end_day.year:
            if month is not None:
                months.append(month.row(account_id, currency))
            label = f"{day.year:04d}-{day.month:02d}"
            month = _Period("month", label, previous_day, previous_value, mwr=False)
        if year is None or day.year != year.end_day.year:
            if year is not None:
                years.append(year.row(account_id, currency))
            year = _Period("year", f"{day.year:04d}", previous_day, previous_value, mwr=True)
        for period in (month, year, inception):
            period.add(day, value, flow, growth, inside)
        previous_day, previous_value = day, value
    if month is None or year is None:
        return []
    months.append(month.row(account_id, currency))
    years.append(year.row(account_id, currency))
    return [*months, *years, inception.row(account_id, currency)]


def _xirr(points: list[tuple[float, float]]) -> Decimal | None:
    """The annual rate r with sum a * (1 + r)^-t = 0 over (years t, amount a), or None."""
    points = [(t, a) for t, a in points if a]
    if not any(a > 0 for _, a in points) or not any(a < 0 for _, a in points):
        return None
    horizon = max(t for t, _ in points)

    def npv(x: float, shift: float) -> float:
        # the NPV at x = ln(1 + r), times e^-shift
        return math.fsum(a * math.exp(-x * t - shift) for t, a in points)

    def sign(x: float) -> int:
        # scaled by the largest shift under which no term overflows
        total = npv(x, max(0.0, -x * horizon))
        return (total > 0) - (total < 0)

    bracket = _bracket(sign)
    if bracket is None:
        return None
    low, high = sorted(bracket)
    side = sign(low)
    # bisect on the sign alone until one scale serves the whole bracket
    while side and high - low > _NARROW:
        middle = (low + high) / 2
        found = sign(middle)
        if not found:
            low = high = middle
        elif found == side:
            low = middle
        else:
            high = middle
    if low < high:
        shift = max(0.0, -low * horizon)
        low = _illinois(lambda x: npv(x, shift), low, high)
    return _rounded(Decimal(repr(math.expm1(low))))


def _illinois(f: Callable[[float], float], low: float, high: float) -> float:
    """A root of ``f`` in [low, high], whose ends differ in sign: false position, Illinois."""
    f_low, f_high = f(low), f(high)
    kept = 0  # which end stayed at the last step: -1 low, 1 high
    for _ in range(_MAX_STEPS):
        if high - low <= _RESOLUTION * (1 + abs(low)) or not f_low or not f_high:
            break
        x = (low * f_high - high * f_low) / (f_high - f_low)
        x = x if low < x < high else (low + high) / 2  # a bisection where rounding stalls it
        fx = f(x)
        if not fx:
            return x
        if (fx > 0) == (f_high > 0):
            high, f_high = x, fx
            f_low = f_low / 2 if kept == -1 else f_low
            kept = -1
        else:
            low, f_low = x, fx
            f_high = f_high / 2 if kept == 1 else f_high
            kept = 1
    return low if not f_low else high if not f_high else (low + high) / 2


def _bracket(sign: Callable[[float], int]) -> tuple[float, float] | None:
    """An interval of x whose ends differ in sign, widened both ways from the guess."""
    start = sign(_X_GUESS)
    if start == 0:
        return _X_GUESS, _X_GUESS
    below = above = _X_GUESS
    step = _FIRST_STEP
    while below > _X_LOW or above < _X_HIGH:
        if above < _X_HIGH:
            reach = min(_X_GUESS + step, _X_HIGH)
            if sign(reach) != start:
                return above, reach
            above = reach
        if below > _X_LOW:
            reach = max(_X_GUESS - step, _X_LOW)
            if sign(reach) != start:
                return below, reach
            below = reach
        step *= 2
    return None
