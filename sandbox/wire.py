"""Wire formats: JSON with exact decimals, ISO timestamps with offsets, deterministic
randomness, and a request as the server read it."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEN_PLACES = Decimal("1E-10")
_STRING = json.JSONEncoder(ensure_ascii=True).encode


@dataclass(frozen=True)
class Request:
    """An HTTP request as the server read it: the path without its query, the raw query."""

    method: str
    path: str
    query: str
    body: bytes = b""
    auth: str | None = None


def encode(value: object) -> bytes:
    """Serialise to compact JSON, writing Decimals exactly as str() renders them.

    json.dumps cannot emit ``17.0000000000`` or ``0E-10``; the real API does.
    """
    return _encode(value).encode("ascii")


def _encode(v: object) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return _STRING(v)
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise ValueError("non-finite decimal")
        return str(v)
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, dict):
        return "{" + ",".join(_STRING(k) + ":" + _encode(x) for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ",".join(_encode(x) for x in v) + "]"
    raise TypeError(f"cannot encode {type(v).__name__}")


def rng(*parts: object) -> random.Random:
    """A random generator determined only by its parts (stable across processes)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))


def token(*parts: object, length: int = 32) -> str:
    """A stable hexadecimal token derived from its parts."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=length // 2).hexdigest()


def uuid_like(*parts: object) -> str:
    """A stable UUID-shaped reference derived from its parts."""
    h = token(*parts)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


_EXPONENTS = tuple(Decimal(1).scaleb(-places) for places in range(16))


def quantize(value: Decimal, places: int) -> Decimal:
    """Round to a fixed number of decimal places (banker's rounding)."""
    exponent = _EXPONENTS[places] if 0 <= places < 16 else Decimal(1).scaleb(-places)
    return value.quantize(exponent, rounding=ROUND_HALF_EVEN)


def decimal_between(r: random.Random, low: str, high: str, places: int) -> Decimal:
    """A uniformly drawn Decimal in [low, high] with exactly ``places`` decimals."""
    lo, hi = Decimal(low).scaleb(places), Decimal(high).scaleb(places)
    return Decimal(r.randint(int(lo), int(hi))).scaleb(-places)


def shares_for(r: random.Random, budget: Decimal, unit_price: Decimal) -> Decimal:
    """A share count worth about ``budget``: whole shares or a fraction with 10 places."""
    raw = budget / unit_price
    if r.random() < 0.45:
        return quantize(max(Decimal(1), raw.to_integral_value()), 10)
    return quantize(raw, 10)


def to_ms(dt: datetime) -> int:
    """Epoch milliseconds of an aware datetime, exactly."""
    return (dt - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds, exactly."""
    return EPOCH + timedelta(milliseconds=ms)


def iso(ms: int, offset_minutes: int = 0, millis: bool = True) -> str:
    """ISO 8601 text of an instant: ``Z`` or a ``+03:00``-style offset, with or without ms."""
    local = from_ms(ms) + timedelta(minutes=offset_minutes)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{ms % 1000:03d}"
    if offset_minutes == 0:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def iso_varied(ms: int, r: random.Random) -> str:
    """Render an instant the way real items vary: mostly whole seconds, some offsets."""
    roll = r.random()
    millis = roll < 0.25
    offset = 180 if roll > 0.8 else (120 if roll > 0.75 else 0)
    return iso(ms, offset, millis)


def parse_iso(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 timestamp (naive means UTC)."""
    text = text.strip()
    if "T" in text:
        # a "+" in an unescaped query string arrives as a space
        text = text.replace(" ", "+")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return to_ms(dt)
