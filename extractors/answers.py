"""Decoded answers: exact JSON, the bytes as received, and what each endpoint cost."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# Bodies past this size decode with a Python hook per object (about a fifth slower).
PREEMPTIBLE_BODY = 256 * 1024


def decode_json(body: bytes) -> Any:
    """Decode a response body with every fractional number as an exact ``Decimal``."""
    if len(body) < PREEMPTIBLE_BODY:
        return json.loads(body, parse_float=Decimal)
    # One C call holds the GIL for the whole body (25 ms for the 16,000 instruments): the
    # history threads, waking at their window's reset, would wait for it. The hook runs
    # Python code between objects, where the interpreter can switch threads.
    return json.loads(body, parse_float=Decimal, object_pairs_hook=_object)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)


@dataclass
class EndpointStats:
    """What one endpoint cost: requests, retries, 429s, seconds waited, bytes received."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    wait_seconds: float = 0.0
    bytes: int = 0


@dataclass(frozen=True)
class ApiResponse:
    """A decoded answer with the exact body received, for the raw zone."""

    path: str
    url: str
    status: int
    body: bytes
    data: Any
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
