"""Account returns: time- and money-weighted returns and drawdowns by month, year and inception.

Definitions (the rows of table ``returns``):

Sub-periods. An account's valuation instants t_0 < t_1 < ... (the moments ``snapshot_at``
its total value V was taken; several a day, or gaps of days, are normal) cut its history
into sub-periods (t_{i-1}, t_i]. F_i is the sum of the external flows whose timestamp lies
in that interval (deposits, withdrawals and transfers in and out; deposits positive;
dividends, interest and fees are return, not flows), taken at its end: a flow after a
valuation belongs to the next sub-period even on the same day. Flows at or before t_0 are
in V_0 already and flows after the last valuation are not valued yet: both are left out.
A ``date`` given for an instant stands for midnight UTC at its start.

Time-weighted return (``twr``). r_i = (V_i - F_i) / V_{i-1} - 1, chain-linked: a period's
TWR is the product of (1 + r_i) - 1 over the sub-periods ending in it. A sub-period that
starts from a value of 0 or less (the account was empty) has no return and is skipped,
the next starts from its value; so is one whose value net of its flows is negative (a
valuation that missed a flow: an account cannot lose more than it holds). Exact Decimal
arithmetic in a 60-digit context, quantized to 10 places.

Periods. A sub-period belongs to the month and the year of its end instant's UTC date, and
to ``inception``; a period has a row when a sub-period ends in it (an account with a single
valuation has none). ``start_day``/``start_value``: the valuation its first sub-period
starts from (the previous valuation, which may lie in an earlier period; t_0 for the
account's first); ``end_day``/``end_value``: its last valuation; days are UTC calendar
dates, ``days`` = end_day - start_day; ``net_flows``: the sum of its F_i.

Money-weighted return (``mwr``, years and inception only: an annualised rate over a month
misleads, so months have None). XIRR (:mod:`transforms.portfolio.xirr`) of -start_value on
start_day, -amount of every flow on its own UTC day and +end_value on end_day, the amounts
of one day added up first. None when no rate exists or when the period is shorter than
MIN_MWR_DAYS days.

Maximum drawdown (``max_drawdown``). From the period's TWR index W (1 at its start, times
(1 + r_i) after each sub-period), not the raw value that deposits distort: the minimum of
W_t / max_{s<=t} W_s - 1 with the peak taken within the period, a fraction in [-1, 0].
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import Context, Decimal, localcontext
from operator import itemgetter

import pandas as pd

from transforms.catalogue import table
from transforms.frames import empty_frame, frame_columns
from transforms.portfolio.xirr import xirr

MIN_MWR_DAYS = 2
_CONTEXT = Context(prec=60)
_PLACES = Decimal("1e-10")
_ZERO = Decimal(0)
_ONE = Decimal(1)
_AT = itemgetter(0)
Instant = datetime | date


def instant(value: Instant) -> datetime:
    """``value`` as an aware UTC datetime; a date is midnight UTC at its start."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), UTC)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def compute_returns(
    values: Iterable[tuple[int, Instant, Decimal, str]],
    flows: Iterable[tuple[int, Instant, Decimal]],
) -> pd.DataFrame:
    """Rows of table ``returns`` (without load metadata) for every account with values.

    ``values``: (account_id, valuation instant, total value then, account currency), any
    order; ``flows``: (account_id, instant, amount), deposits positive. Rows come by
    account, then months, years and inception, each in date order. Raises ValueError for
    two values of an account at one instant or in two currencies (a value without currency
    contradicts none).
    """
    series: dict[int, dict[datetime, Decimal]] = defaultdict(dict)
    currencies: dict[int, str] = {}
    for account_id, at, value, currency in values:
        instants = series[account_id]
        at = instant(at)
        if at in instants:
            raise ValueError(f"account {account_id}: two values at {at.isoformat()}")
        instants[at] = value
        if currency is not None and currencies.setdefault(account_id, currency) != currency:
            known = currencies[account_id]
            raise ValueError(f"account {account_id}: values in {known} and {currency}")
    cash: dict[int, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for account_id, at, amount in flows:
        cash[account_id].append((instant(at), amount))
    rows: list[tuple] = []
    with localcontext(_CONTEXT):
        for account_id in sorted(series):
            valued = sorted(series[account_id].items())
            timed = sorted(cash.get(account_id, ()), key=_AT)
            rows += _account_rows(account_id, valued, timed, currencies.get(account_id))
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
            cash = [(self.start_day, -self.start_value), (self.end_day, self.end_value)]
            mwr = xirr(cash + [(day, -amount) for day, amount in self.cash])
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
    valued: list[tuple[datetime, Decimal]],
    timed: list[tuple[datetime, Decimal]],
    currency: str | None,
) -> list[tuple]:
    """The month, year and inception rows of one account (values and flows in time order)."""
    previous_at, previous_value = valued[0]
    previous_day = previous_at.date()
    inception = _Period("inception", "inception", previous_day, previous_value, mwr=True)
    months: list[tuple] = []
    years: list[tuple] = []
    month = year = None
    k = bisect_right(timed, previous_at, key=_AT)  # flows at or before t_0 are in V_0
    for at, value in valued[1:]:
        day = at.date()
        end = k
        while end < len(timed) and timed[end][0] <= at:
            end += 1
        inside = [(t.date(), a) for t, a in timed[k:end]]
        flow = sum((a for _, a in inside), _ZERO)
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
