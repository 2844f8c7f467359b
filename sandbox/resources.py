"""Handlers of the public API's resources: each turns a request into a payload or an error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from extractors.resources import RESOURCES, Kind
from sandbox.account import AccountBook
from sandbox.config import API
from sandbox.exchanges import exchanges
from sandbox.history import Series
from sandbox.reports import ReportDesk, ReportError
from sandbox.transactions import TransactionSeries
from sandbox.wire import iso, parse_iso

DEFAULT_LIMIT = 20
MAX_LIMIT = 50


@dataclass
class Reply:
    """An answer before it is written: a payload to encode, or ready bytes."""

    status: int = 200
    payload: object = None
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    paginated: bool = False


@dataclass(frozen=True)
class Call:
    """What a resource handler gets to see of a request."""

    book: AccountBook
    path: str
    query: dict[str, str]
    body: bytes
    base_url: str
    desk: ReportDesk


def error(status: int, code: str, message: str | None = None) -> Reply:
    """A small JSON error answer like the service's."""
    payload = {"code": code} if message is None else {"code": code, "message": message}
    return Reply(status, payload)


def _limit(query: dict[str, str]) -> int | Reply:
    text = query.get("limit")
    if text is None or text == "":
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\d{1,9}", text) or not 1 <= int(text) <= MAX_LIMIT:
        return error(400, "BadFilteringArguments", f"limit must be between 1 and {MAX_LIMIT}")
    return int(text)


def _numeric_history(series: Series, call: Call) -> Reply:
    """Dividends and orders: a numeric cursor, the epoch milliseconds of the next item."""
    limit = _limit(call.query)
    if isinstance(limit, Reply):
        return limit
    cursor = call.query.get("cursor")
    ticker = call.query.get("ticker") or None
    start = series.count - 1
    if cursor is not None:
        if not re.fullmatch(r"-?\d{1,19}", cursor):
            return error(400, "BadFilteringArguments", "cursor must be a number")
        start = series.timeline.index_at_or_before(int(cursor))
    page = series.page(start, limit, ticker, call.book.horizon_ms())
    next_path = None
    if page.next_index >= 0:
        next_path = f"{call.path}?limit={limit}&cursor={series.time_ms(page.next_index)}"
        if ticker:
            next_path += f"&ticker={quote(ticker, safe='')}"
    return Reply(payload={"items": page.items, "nextPagePath": next_path}, paginated=True)


def _transactions(call: Call) -> Reply:
    """Transactions: the next item's reference as cursor, its instant in ``time``."""
    series: TransactionSeries = call.book.transactions
    limit = _limit(call.query)
    if isinstance(limit, Reply):
        return limit
    cursor = call.query.get("cursor") or None
    text = call.query.get("time") or None
    if cursor is not None and text is None:
        return error(400, "BadFilteringArguments", "cursor needs the time parameter")
    start = series.count - 1
    if text is not None:
        try:
            at = parse_iso(text)
        except ValueError:
            return error(400, "BadFilteringArguments", "time must be an ISO 8601 date-time")
        start = (
            series.reference_index(at, cursor) if cursor else series.timeline.index_at_or_before(at)
        )
    page = series.page(start, limit, oldest_ms=call.book.horizon_ms())
    next_path = None
    if page.next_index >= 0:
        reference = series.item(page.next_index)["reference"]
        at = quote(iso(series.time_ms(page.next_index)), safe=":")
        next_path = f"{call.path}?limit={limit}&cursor={reference}&time={at}"
    return Reply(payload={"items": page.items, "nextPagePath": next_path}, paginated=True)


def _positions(call: Call) -> Reply:
    positions = call.book.positions()
    ticker = call.query.get("ticker")
    if ticker:
        positions = [p for p in positions if p["instrument"]["ticker"] == ticker]
    return Reply(payload=positions)


def _report_request(call: Call) -> Reply:
    try:
        body = json.loads(call.body or b"null")
        report = call.desk.request(call.book.spec.account_id, body)
    except (ValueError, ReportError) as exc:
        message = str(exc) if isinstance(exc, ReportError) else "request body is not JSON"
        return error(400, "BadFilteringArguments", message)
    return Reply(payload={"reportId": report.report_id})


@dataclass(frozen=True)
class Route:
    """A resource: its rate-limit key, the scopes that open it and its handler."""

    endpoint: str
    scopes: tuple[str, ...]
    handler: Callable[[Call], Reply]


_HISTORY = ("history:orders", "history:dividends", "history:transactions")

ROUTES: dict[tuple[str, str], Route] = {
    ("GET", f"{API}/account/summary"): Route(
        f"GET {API}/account/summary", ("account",), lambda c: Reply(payload=c.book.summary())
    ),
    ("GET", f"{API}/positions"): Route(f"GET {API}/positions", ("portfolio",), _positions),
    ("GET", f"{API}/metadata/instruments"): Route(
        f"GET {API}/metadata/instruments",
        ("metadata",),
        lambda c: Reply(body=c.book.instruments_body()),
    ),
    ("GET", f"{API}/metadata/exchanges"): Route(
        f"GET {API}/metadata/exchanges",
        ("metadata",),
        lambda c: Reply(payload=exchanges(c.book.now_ms)),
    ),
    ("GET", f"{API}/history/dividends"): Route(
        f"GET {API}/history/dividends",
        ("history:dividends",),
        lambda c: _numeric_history(c.book.dividends, c),
    ),
    ("GET", f"{API}/history/orders"): Route(
        f"GET {API}/history/orders",
        ("history:orders",),
        lambda c: _numeric_history(c.book.orders, c),
    ),
    ("GET", f"{API}/history/transactions"): Route(
        f"GET {API}/history/transactions", ("history:transactions",), _transactions
    ),
    ("GET", f"{API}/history/exports"): Route(
        f"GET {API}/history/exports",
        _HISTORY,
        lambda c: Reply(payload=c.desk.listing(c.book.spec.account_id, c.base_url)),
    ),
    ("POST", f"{API}/history/exports"): Route(
        f"POST {API}/history/exports", _HISTORY, _report_request
    ),
}


def _snapshot(name: str) -> Callable[[Call], Reply]:
    return lambda c: Reply(payload=getattr(c.book, name)())


# a declared snapshot without a handler above is served by the book's method of its name:
# a new one needs only that method here
ROUTES.update(
    {
        ("GET", r.path): Route(f"GET {r.path}", (r.scope,), _snapshot(r.name))
        for r in RESOURCES.values()
        if r.kind == Kind.SNAPSHOT and ("GET", r.path) not in ROUTES
    }
)
PATHS = frozenset(path for _, path in ROUTES)
