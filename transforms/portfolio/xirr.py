"""XIRR: the annual rate at which dated cash flows are worth nothing, found over the whole range.

The rate r solves sum_k c_k (1 + r)^(-d_k / 365) = 0, d_k the calendar days (UTC) from the
first flow's day to flow k's, as spreadsheets compute it (actual/365). The amounts of one
day are added up first: a day whose money nets to zero adds nothing, and a set of days
whose net amounts are all of one sign (or zero) has no rate (None).

Solved on x = ln(1 + r), which turns r in (-1 + 1e-9, 1e9) into |x| < 20.73. Every point
of a grid over that range (:func:`scan_grid`: step ``FINE_STEP`` for |x| <= ``FINE_REACH``,
r from -86 % to +639 %, ``COARSE_STEP`` beyond) is tried for a change of the NPV's sign;
the NPV is evaluated scaled by e^(-shift), the largest factor under which no term
overflows, since only its sign matters there. A rate exists in each cell whose ends differ
in sign; of several, the one nearest to r = 0 is taken. That cell is narrowed by false
position (Illinois) to a relative width of ``RESOLUTION`` in x. Roots closer together than
one grid step may cancel each other's sign change and go unseen, as may a root where the
NPV only touches zero; no rate is reported then (roots sharing one cell of the grid).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

import numpy as np

X_LOW, X_HIGH = math.log(1e-9), math.log1p(1e9)  # ln(1 + r) for r in (-1 + 1e-9, 1e9)
FINE_STEP, FINE_REACH, COARSE_STEP = 0.005, 2.0, 0.05
RESOLUTION = 1e-15
_MAX_STEPS = 200
_CHUNK = 256  # grid points evaluated at once
_PLACES = Decimal("1e-10")


def xirr(flows: Iterable[tuple[date, Decimal]]) -> Decimal | None:
    """The XIRR of (UTC day, amount) flows to ten places, or None when none exists."""
    netted: dict[date, Decimal] = defaultdict(Decimal)
    for day, amount in flows:
        netted[day] += amount
    days = [day for day, amount in netted.items() if amount]
    if not days:
        return None
    first = min(days)
    points = [((day - first).days / 365, float(netted[day])) for day in sorted(days)]
    if not any(a > 0 for _, a in points) or not any(a < 0 for _, a in points):
        return None
    x = solve(points)
    return None if x is None else Decimal(repr(math.expm1(x))).quantize(_PLACES) + 0


def solve(points: list[tuple[float, float]]) -> float | None:
    """An x = ln(1 + r) with sum a * e^(-x t) = 0 over (years t >= 0, amount a), or None."""
    times = np.array([t for t, _ in points])
    amounts = np.array([a for _, a in points])
    horizon = float(times.max())
    grid = scan_grid()
    signs = np.concatenate([_signs(grid[i : i + _CHUNK], times, amounts, horizon)
                            for i in range(0, len(grid), _CHUNK)])  # fmt: skip
    zeros = np.flatnonzero(signs == 0)
    changes = np.flatnonzero(signs[:-1] * signs[1:] < 0)
    candidates = [(abs(grid[i]), grid[i], grid[i]) for i in zeros]
    candidates += [(min(abs(grid[i]), abs(grid[i + 1])), grid[i], grid[i + 1]) for i in changes]
    if not candidates:
        return None
    _, low, high = min(candidates)
    if low == high:
        return float(low)
    shift = max(0.0, -float(low) * horizon)

    def npv(x: float) -> float:
        return math.fsum(a * math.exp(-x * t - shift) for t, a in points)

    return _illinois(npv, float(low), float(high))


def scan_grid() -> np.ndarray:
    """The values of x tried for a change of sign, ascending, from X_LOW to X_HIGH."""
    fine = np.arange(-FINE_REACH, FINE_REACH, FINE_STEP)
    below = np.arange(X_LOW, -FINE_REACH, COARSE_STEP)
    above = np.arange(FINE_REACH, X_HIGH, COARSE_STEP)
    return np.concatenate([below, fine, above, [X_HIGH]])


def _signs(grid: np.ndarray, times: np.ndarray, amounts: np.ndarray, horizon: float) -> np.ndarray:
    """The sign of the NPV at each x of ``grid``, each scaled so that no term overflows."""
    shift = np.maximum(0.0, -grid * horizon)
    with np.errstate(under="ignore"):
        terms = np.exp(-np.outer(grid, times) - shift[:, None])
    return np.sign(terms @ amounts)


def _illinois(f: Callable[[float], float], low: float, high: float) -> float:
    """A root of ``f`` in [low, high], whose ends differ in sign: false position, Illinois."""
    f_low, f_high = f(low), f(high)
    if not f_low or not f_high or (f_low > 0) == (f_high > 0):
        return low if not f_low else high if not f_high else (low + high) / 2
    kept = 0  # which end stayed at the last step: -1 low, 1 high
    for _ in range(_MAX_STEPS):
        if high - low <= RESOLUTION * (1 + abs(low)):
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
    return (low + high) / 2
