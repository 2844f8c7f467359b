"""Exchanges (markets) with their working schedules and the time events around the sandbox clock."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.timeline import DAY_MS
from sandbox.wire import iso

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Market:
    """An exchange, its ticker shape, currency and trading hours (UTC minutes)."""

    code: str
    exchange_id: int
    name: str
    country: str
    currency: str
    suffix: str
    weight: float
    schedule_ids: tuple[int, ...]
    extended: bool
    price_range: tuple[str, str]
    open_min: int
    close_min: int
    withholding: str

    def ticker(self, symbol: str) -> str:
        """The Trading 212 ticker of a symbol listed here."""
        return self.suffix.format(s=symbol)


# code | id | name | country | currency | ticker shape | weight | schedules | extended hours
# | price range | open-close (UTC minutes) | dividend withholding
_TABLE = """
NYSE|1|NYSE|US|USD|{s}_US_EQ|24|53,71|y|3-650|870-1260|0.15
NASDAQ|2|NASDAQ|US|USD|{s}_US_EQ|22|54,72|y|2-900|870-1260|0.15
OTC|3|OTC Markets|US|USD|{s}_US_EQ|3|55|n|0.05-40|870-1260|0.15
LSE|4|London Stock Exchange|GB|GBX|{s}l_EQ|15|60,61|n|40-12000|480-990|0
XETRA|5|Deutsche Börse Xetra|DE|EUR|{s}d_EQ|11|70|n|4-420|420-930|0.26375
EURONEXT_PAR|6|Euronext Paris|FR|EUR|{s}p_EQ|6|80|n|3-700|420-930|0.25
EURONEXT_AMS|7|Euronext Amsterdam|NL|EUR|{s}a_EQ|4|81|n|3-700|420-930|0.15
BIT|8|Borsa Italiana|IT|EUR|{s}m_EQ|3|90|n|1-90|420-930|0.26
BME|9|Bolsa de Madrid|ES|EUR|{s}e_EQ|3|95|n|1-60|420-930|0.19
SIX|10|SIX Swiss Exchange|CH|CHF|{s}z_EQ|2|100|n|10-500|420-930|0.35
TSX|11|Toronto Stock Exchange|CA|CAD|{s}_CA_EQ|4|110|n|1-200|870-1260|0.25
"""


def _market(line: str) -> Market:
    code, xid, name, country, ccy, shape, weight, sids, ext, prices, hours, tax = line.split("|")
    low, high = prices.split("-")
    opening, closing = hours.split("-")
    schedules = tuple(int(x) for x in sids.split(","))
    return Market(
        code, int(xid), name, country, ccy, shape, float(weight), schedules, ext == "y",
        (low, high), int(opening), int(closing), tax,
    )  # fmt: skip


MARKETS: tuple[Market, ...] = tuple(_market(line) for line in _TABLE.strip().splitlines())


def _events(schedule_id: int, market: Market, day_ms: int) -> list[tuple[int, str]]:
    """Time events of one schedule on one trading day (UTC midnight ``day_ms``)."""
    opening = day_ms + market.open_min * 60_000
    closing = day_ms + market.close_min * 60_000
    if schedule_id == market.schedule_ids[-1] and market.extended and len(market.schedule_ids) > 1:
        return [
            (opening - 5 * HOUR_MS - 30 * 60_000, "PRE_MARKET_OPEN"),
            (opening, "OPEN"),
            (closing, "CLOSE"),
            (closing, "AFTER_HOURS_OPEN"),
            (closing + 4 * HOUR_MS, "AFTER_HOURS_CLOSE"),
            (closing + 5 * HOUR_MS, "OVERNIGHT_OPEN"),
        ]
    if market.code == "LSE" and schedule_id == market.schedule_ids[-1]:
        midday = day_ms + 12 * HOUR_MS
        return [
            (opening, "OPEN"),
            (midday, "BREAK_START"),
            (midday + 2 * 60_000, "BREAK_END"),
            (closing, "CLOSE"),
        ]
    return [(opening, "OPEN"), (closing, "CLOSE")]


def exchanges(now_ms: int) -> list[dict]:
    """The exchanges response: schedules with events from yesterday to a week ahead."""
    today = now_ms - now_ms % DAY_MS
    days = [today + d * DAY_MS for d in range(-1, 7)]
    trading_days = [d for d in days if (d // DAY_MS + 3) % 7 < 5]  # 1970-01-01 was a Thursday
    result = []
    for market in MARKETS:
        schedules = []
        for sid in market.schedule_ids:
            events = [
                {"date": iso(at, 180, True), "type": kind}
                for day in trading_days
                for at, kind in _events(sid, market, day)
            ]
            schedules.append({"id": sid, "timeEvents": events})
        result.append(
            {"id": market.exchange_id, "name": market.name, "workingSchedules": schedules}
        )
    return result


def exchange_truth(now_ms: int) -> dict:
    """Counts of exchanges and time events served at ``now_ms``."""
    data = exchanges(now_ms)
    events = sum(len(s["timeEvents"]) for e in data for s in e["workingSchedules"])
    return {"count": len(data), "time_events": events}
