"""The instrument list (tickers in the real variety of shapes), prices and exchange rates."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from sandbox.exchanges import MARKETS, Market
from sandbox.wire import decimal_between, iso, quantize, rng

# Well-known listings at fixed indices, so a default account looks familiar.
# (ticker, name, short name, isin, currency, type, market code, price)
KNOWN = (
    ("AAPL_US_EQ", "Apple", "AAPL", "US0378331005", "USD", "STOCK", "NASDAQ", "201.50"),
    ("MSFT_US_EQ", "Microsoft", "MSFT", "US5949181045", "USD", "STOCK", "NASDAQ", "455.10"),
    ("VUSAl_EQ", "Vanguard S&P 500 (Dist)", "VUSA", "IE00B3XXRP09", "GBX", "ETF", "LSE", "9105"),
    ("SAPd_EQ", "SAP", "SAP", "DE0007164600", "EUR", "STOCK", "XETRA", "258.40"),
    ("ULVRl_EQ", "Unilever", "ULVR", "GB00B10RZP78", "GBX", "STOCK", "LSE", "4462"),
    ("VWRLl_EQ", "Vanguard FTSE All-World", "VWRL", "IE00B3RBWM25", "GBX", "ETF", "LSE", "11020"),
    ("ASMLa_EQ", "ASML Holding", "ASML", "NL0010273215", "EUR", "STOCK", "EURONEXT_AMS", "682.3"),
    ("MCp_EQ", "LVMH", "MC", "FR0000121014", "EUR", "STOCK", "EURONEXT_PAR", "469.85"),
    ("NESNz_EQ", "Nestle", "NESN", "CH0038863350", "CHF", "STOCK", "SIX", "79.42"),
    ("O_US_EQ", "Realty Income", "O", "US7561091049", "USD", "STOCK", "NYSE", "57.61"),
    ("BRK_B_US_EQ", "Berkshire Hathaway (B)", "BRK.B", "US0846707026", "USD", "STOCK", "NYSE",
     "485.82"),
    ("BT/Al_EQ", "BT Group", "BT.A", "GB0030913577", "GBX", "STOCK", "LSE", "194.35"),
)  # fmt: skip

_SYLLABLES = (
    "al", "ber", "cor", "dan", "el", "fin", "gra", "hel", "ion", "jor", "kap", "lum", "mar",
    "nor", "or", "pax", "quin", "ros", "sol", "tor", "ul", "ver", "wex", "xan", "yor", "zen",
)  # fmt: skip
_SUFFIXES = {
    "US": ("Inc", "Corp", "Holdings", "Group", "Technologies"),
    "GB": ("plc", "Group plc", "Holdings plc"),
    "DE": ("AG", "SE"),
    "FR": ("SA", "SE"),
    "NL": ("NV",),
    "IT": ("SpA",),
    "ES": ("SA",),
    "CH": ("AG",),
    "CA": ("Inc", "Corp"),
    "IE": ("plc",),
}
_TYPES = (("STOCK", 0.74), ("ETF", 0.94), ("WARRANT", 0.96), ("CVR", 0.97), ("CORPACT", 0.98))
_ALPHABET = 26**4
_KNOWN_SYMBOLS = frozenset(k[2] for k in KNOWN)


@dataclass(frozen=True)
class Instrument:
    """One tradable instrument and the facts other resources derive from it."""

    index: int
    ticker: str
    name: str
    short_name: str
    isin: str
    currency: str
    type: str
    market: Market
    schedule_id: int
    price: Decimal
    added_on: str
    max_open_quantity: Decimal
    extended_hours: bool

    def ref(self) -> dict:
        """The short ``Instrument`` object embedded in positions, orders and dividends."""
        return {
            "ticker": self.ticker,
            "name": self.name,
            "isin": self.isin,
            "currency": self.currency,
        }

    def tradable(self) -> dict:
        """The ``TradableInstrument`` object of the instruments endpoint."""
        return {
            "ticker": self.ticker,
            "type": self.type,
            "workingScheduleId": self.schedule_id,
            "isin": self.isin,
            "currencyCode": self.currency,
            "name": self.name,
            "shortName": self.short_name,
            "maxOpenQuantity": self.max_open_quantity,
            "extendedHours": self.extended_hours,
            "addedOn": self.added_on,
        }


@lru_cache(maxsize=4096)
def instrument(seed: int, i: int) -> Instrument:
    """The ``i``-th instrument of the list for a seed; the same arguments, the same result."""
    r = rng(seed, "instrument", i)
    added = iso(1_400_000_000_000 + r.randrange(340_000_000) * 1000, 180, True)
    max_open = Decimal(r.choice((5000, 10000, 50000, 100000, 1200000)))
    if i < len(KNOWN):
        ticker, name, short, isin, ccy, kind, code, price = KNOWN[i]
        market = next(m for m in MARKETS if m.code == code)
        return Instrument(
            i, ticker, name, short, isin, ccy, kind, market, market.schedule_ids[0],
            Decimal(price), added, max_open, market.extended,
        )  # fmt: skip
    market = r.choices(MARKETS, weights=[m.weight for m in MARKETS])[0]
    symbol = _symbol(seed, i)
    roll = r.random()
    kind = next((t for t, edge in _TYPES if roll < edge), "CRYPTOCURRENCY")
    country = market.country if kind != "ETF" else r.choice(("IE", market.country))
    words = "".join(r.choice(_SYLLABLES) for _ in range(r.randint(2, 3))).capitalize()
    name = f"{words} {r.choice(_SUFFIXES[country])}"
    if kind == "ETF":
        name = f"{words} {r.choice(('World', 'S&P 500', 'Dividend', 'Europe', 'Bond'))} ETF"
    ticker = market.ticker(symbol)
    if r.random() < 0.012:
        # the irregular few: characters unsafe in a file name or a URL
        ticker = r.choice((f"{symbol}.{'AB'[i % 2]}", f"{symbol}/{'AB'[i % 2]}", f"{symbol} B"))
        ticker = market.ticker(ticker)
    currency = market.currency
    if market.code == "LSE" and r.random() < 0.15:
        currency = r.choice(("GBP", "USD"))
    low, high = market.price_range
    price = decimal_between(r, low, high, 2)
    schedule = market.schedule_ids[-1 if kind == "ETF" else 0]
    return Instrument(
        i, ticker, name, symbol, _isin(country, r.randrange(10**9)), currency, kind, market,
        schedule, price, added, max_open, market.extended and r.random() < 0.6,
    )  # fmt: skip


def _symbol(seed: int, i: int) -> str:
    """A four-letter symbol unique per index: a bijection of the index onto the codes."""
    n = (i * 7919 + seed * 104729) % _ALPHABET
    letters = ""
    for _ in range(4):
        n, d = divmod(n, 26)
        letters += chr(65 + d)
    return letters + ("X" if letters in _KNOWN_SYMBOLS else "")


def _isin(country: str, serial: int) -> str:
    """An ISIN with a valid check digit."""
    body = f"{country}{serial:09d}"
    digits = "".join(str(int(c, 36)) for c in body)
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = int(ch)
        if pos % 2 == 0:
            d *= 2
        total += d // 10 + d % 10
    return body + str((10 - total % 10) % 10)


# Value of one unit in EUR (GBX is a penny of GBP).
_IN_EUR = {
    "EUR": Decimal("1"),
    "USD": Decimal("0.9214"),
    "GBP": Decimal("1.1732"),
    "GBX": Decimal("0.011732"),
    "CHF": Decimal("1.0418"),
    "CAD": Decimal("0.6771"),
}


def major(currency: str) -> str:
    """The currency a minor unit belongs to (GBX -> GBP)."""
    return "GBP" if currency == "GBX" else currency


@lru_cache(maxsize=65_536)
def fx(source: str, target: str, day: int = 0) -> Decimal:
    """Units of ``target`` for one unit of ``source`` on simulated ``day`` (10 places)."""
    if source == target:
        return Decimal(1)
    drift = Decimal(1) + Decimal(rng("fx", source, target, day).randint(-150, 150)).scaleb(-4)
    return quantize(_IN_EUR[source] / _IN_EUR[target] * drift, 10)


def price_on(base: Decimal, index: int, day: int) -> Decimal:
    """An instrument's price on a simulated day: a slow drift plus a daily wiggle."""
    wiggle = Decimal(rng("price", index, day).randint(-300, 300)).scaleb(-4)
    trend = Decimal(day % 3650).scaleb(-4) * (1 if index % 3 else -1)
    return quantize(base * (Decimal(1) + trend + wiggle), 2)
