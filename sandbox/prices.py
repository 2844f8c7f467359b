"""Exchange rates and price paths: deterministic functions of a currency pair and a day."""

from __future__ import annotations

from decimal import Decimal

from sandbox.wire import quantize, rng

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
