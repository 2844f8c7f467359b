"""The front door of the public API: auth, IP rule, scopes, rate limits, counts and faults."""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs

from extractors.resources import RESOURCES, Kind
from sandbox.account import AccountBook
from sandbox.config import AccountSpec
from sandbox.faults import FaultPlan
from sandbox.ratelimit import RateLimiter
from sandbox.reports import ReportDesk
from sandbox.resources import PATHS, ROUTES, Call, Reply, error
from sandbox.wire import Request, encode

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>"
    b"<h1>Service temporarily unavailable</h1><p>Please try again later.</p></body></html>"
)
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
FOREIGN_HOST = "https://api.example.invalid"

# the endpoints whose answers are pages (page faults apply to them): as the client declares
PAGINATED = frozenset(r.path for r in RESOURCES.values() if r.kind == Kind.HISTORY)


@dataclass
class KeyEntry:
    """A key pair, the scopes it carries now and whether its IP rule refuses us."""

    spec: AccountSpec
    scopes: frozenset[str]
    secret: str
    ip_restricted: bool = False


def credentials(header: str | None) -> tuple[str, str | None] | None:
    """(key, secret) from HTTP Basic, or (key, None) from the legacy bare-key header."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return header.strip(), None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, sep, secret = decoded.partition(":")
    return (key, secret) if sep else None


class Gateway:
    """Decides the answer to one API request; the HTTP server only writes it."""

    def __init__(
        self,
        books: dict[int, AccountBook],
        limiter: RateLimiter,
        faults: FaultPlan,
        desk: ReportDesk,
    ) -> None:
        self.books = books
        self.limiter = limiter
        self.faults = faults
        self.desk = desk
        self.keys = {
            key: KeyEntry(b.spec, frozenset(b.spec.scopes), secret)
            for b in books.values()
            for key, secret in b.spec.key_pairs()
        }
        self.counts: Counter[tuple[int | None, str]] = Counter()
        self._lock = threading.Lock()
        self._foreign = 0

    def request_counts(self) -> dict[tuple[int | None, str], int]:
        """Requests answered so far per (account id, path); the id is None for an unknown key."""
        with self._lock:
            return dict(self.counts)

    def reset_counts(self) -> None:
        """Forget the request counts."""
        with self._lock:
            self.counts.clear()

    def _authenticate(self, header: str | None) -> tuple[KeyEntry | None, bool]:
        """(key entry if the key is known, whether the credentials are valid)."""
        found = credentials(header)
        if found is None:
            return None, False
        key, secret = found
        entry = self.keys.get(key)
        if entry is None:
            return None, False
        if secret is None:
            return entry, True  # the legacy scheme sends the key alone
        return entry, hmac.compare_digest(secret.encode(), entry.secret.encode())

    def handle(self, request: Request, base_url: str) -> tuple[Reply, str | None]:
        """The reply to a request and the fault to apply while writing it (if any)."""
        method, path, query = request.method, request.path, request.query
        entry, valid = self._authenticate(request.auth)
        account_id = entry.spec.account_id if entry else None
        with self._lock:
            self.counts[(account_id, path)] += 1
        route = ROUTES.get((method, path))
        endpoint = route.endpoint if route else f"{method} {path}"
        if not valid:
            reply = error(401, "BadApiKey", "Bad API key")
            return self._with_headers(reply, account_id, endpoint), None
        assert entry is not None and account_id is not None
        if route is None:
            status = 405 if path in PATHS else 404
            reply = error(status, "NotFound" if status == 404 else "MethodNotAllowed")
            return self._with_headers(reply, account_id, endpoint), None
        if entry.ip_restricted:
            reply = error(403, "IpNotAllowed", "Request IP address is not allowed for API key")
            return self._with_headers(reply, account_id, endpoint), None
        if not any(s in entry.scopes for s in route.scopes):
            message = f"Scope( {route.scopes[0]} ) missing for API key"
            reply = error(403, "ScopeMissing", message)
            return self._with_headers(reply, account_id, endpoint), None
        verdict = self.limiter.hit(account_id, endpoint)
        if not verdict.allowed:
            limit, period = self.limiter.limits.get(endpoint, (0, 0))
            reply = error(429, "TooManyRequests", f"Limited: {limit} / {period:g}s")
            reply.headers.update(verdict.headers)
            return reply, None
        paginated = method == "GET" and path in PAGINATED
        fault = self.faults.draw(path, account_id, paginated, method)
        if fault == "429":
            reply = error(429, "TooManyRequests")
            reply.headers.update(verdict.headers)
            return reply, None
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        call = Call(self.books[account_id], path, params, request.body, base_url, self.desk)
        reply = route.handler(call)
        reply.headers.update(verdict.headers)
        if fault in ("stuck_cursor", "foreign_cursor") and reply.paginated:
            self._misdirect(reply, fault, path, query)
            fault = None
        if fault in RETIMED and reply.paginated:
            retime(reply, path, RETIMED[fault])
            fault = None
        return reply, fault

    def _with_headers(self, reply: Reply, account_id: int | None, endpoint: str) -> Reply:
        if account_id is not None:
            reply.headers.update(self.limiter.peek(account_id, endpoint))
        return reply

    def _misdirect(self, reply: Reply, fault: str, path: str, query: str) -> None:
        """Rewrite nextPagePath: repeat this page, or point to another endpoint or host."""
        page = reply.payload
        assert isinstance(page, dict)
        here = f"{path}?{query}" if query else path
        if fault == "stuck_cursor":
            page["nextPagePath"] = here
            return
        with self._lock:
            self._foreign += 1
            variant = self._foreign % 3
        target = page["nextPagePath"] or here
        if variant == 1:
            page["nextPagePath"] = FOREIGN_HOST + target
        elif variant == 2:
            page["nextPagePath"] = "//api.example.invalid" + target
        else:
            other = "/orders" if not path.endswith("/orders") else "/dividends"
            page["nextPagePath"] = target.replace(path, path.rsplit("/", 1)[0] + other, 1)


# fault -> the time the first item of a page gets instead of its own
RETIMED = {"future_time": "2099-01-01T00:00:00.000Z", "stale_time": "2001-01-02T09:30:00.000Z"}
# the field each history endpoint is ordered by
_TIME_FIELDS = {"/dividends": ("paidOn",), "/transactions": ("dateTime",),
                "/orders": ("order", "createdAt")}  # fmt: skip


def retime(reply: Reply, path: str, moment: str) -> None:
    """Give the first item of a page another time, as a lying clock would."""
    items = reply.payload["items"] if isinstance(reply.payload, dict) else []
    fields = next((f for end, f in _TIME_FIELDS.items() if path.endswith(end)), None)
    if not items or fields is None:
        return
    holder = items[0]
    for name in fields[:-1]:
        holder = holder[name]
    holder[fields[-1]] = moment


def body_of(reply: Reply) -> bytes:
    """The bytes a reply carries."""
    if reply.body is not None:
        return reply.body
    return encode(reply.payload)


def echo(headers: Iterable[tuple[str, str]]) -> bytes:
    """A proxy's one-line error page quoting the request headers it received, by name."""
    quoted = "; ".join(
        f"{name}: {value}" for name, value in sorted(headers, key=lambda h: h[0].lower())
    )
    return f"503 Service Unavailable: the upstream did not answer ({quoted})\n".encode()


def faulty(reply: Reply, fault: str | None) -> tuple[int, bytes, str]:
    """(status, body, content type) after applying a body-level fault."""
    body = body_of(reply)
    if fault in ("500", "502", "503"):
        codes = {"500": b'{"code":"InternalError"}', "502": b"", "503": b'{"code":"Unavailable"}'}
        return int(fault), codes[fault], "application/json"
    if fault == "truncated":
        return 200, body[: max(1, len(body) // 2)], reply.content_type
    if fault == "malformed":
        return (
            200,
            b'{"items": [{"reference": "x",}], "nextPagePath": undefined',
            "application/json",
        )
    if fault == "html200":
        return 200, HTML_PAGE, "text/html; charset=utf-8"
    if fault == "html502":
        return 502, HTML_502, "text/html"
    return reply.status, body, reply.content_type
