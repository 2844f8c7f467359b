"""Errors a user can act on: fatal (bad credentials, scope, request) and retriable (429, 5xx)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from extractors.redaction import PLAIN, Redactor

_SCOPE = re.compile(r"Scope\(\s*([\w:.-]+)\s*\)")


class T212Error(Exception):
    """Base of every error the client raises; messages never contain credentials."""

    retriable = False
    retry_after: float | None = None  # seconds the server asked to wait (a 503's Retry-After)

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None):
        super().__init__(message)
        self.status = status
        self.path = path


class ConfigurationError(T212Error):
    """The client cannot be built as configured (missing key, insecure URL, unknown env)."""


class AuthenticationError(T212Error):
    """401: the key or the secret is wrong, or belongs to the other environment."""


class PermissionDenied(T212Error):
    """403: the key lacks a scope (``scope`` is set) or is restricted to other IP addresses."""

    def __init__(self, message: str, *, scope: str | None = None, **kw):
        super().__init__(message, **kw)
        self.scope = scope


class NotFound(T212Error):
    """404: no such endpoint or object."""


class BadRequest(T212Error):
    """400 and other 4xx: the server refused the request as given."""


class MalformedResponse(T212Error):
    """The body is not the JSON that was expected (HTML page, truncated or invalid JSON)."""

    retriable = True


class RetriableError(T212Error):
    """A transient failure: 429, 408, 5xx or a transport error."""

    retriable = True


class RateLimited(RetriableError):
    """429: the rate-limit window is spent."""


class ServerError(RetriableError):
    """5xx or 408 from the server."""


class TransportError(RetriableError):
    """The connection failed, was reset, or timed out."""


class RetriesExhausted(T212Error):
    """A retriable failure persisted past the retry bounds; ``last`` is the final error."""

    def __init__(self, last: T212Error, attempts: int, waited: float):
        super().__init__(
            f"{last} (gave up after {attempts} attempts and {waited:.1f}s; "
            "the service may be degraded, run again later)",
            status=last.status,
            path=last.path,
        )
        self.last = last


class DeadlineExceeded(T212Error):
    """The run's time limit ran out: nothing more is sent, and no wait goes past it."""

    def __init__(self, what: str, *, path: str | None = None):
        super().__init__(
            f"the run's time limit ran out before {what} was read; the next run reads it "
            "again (raise run_time_limit_hours or --time-limit if this happens every night)",
            path=path,
        )


class ReportFailed(T212Error):
    """A report ended Failed or Canceled, never finished in time, or could not be fetched."""


class PaginationError(T212Error):
    """nextPagePath is unusable: another endpoint or host, a cursor that repeats, too many pages."""


def describe_body(
    body: bytes, content_type: str | None, quote: Redactor = PLAIN, limit: int = 120
) -> str:
    """A short description of a response body for error messages, credentials masked."""
    kind = quote.quote(content_type, 100) if content_type else "none"
    return f"content-type {kind}, first bytes: {quote.quote(body, limit)!r}"


def server_message(body: bytes, quote: Redactor = PLAIN) -> str | None:
    """The message in a small JSON error body (``code``/``message``), else its first bytes.

    One line, credentials masked, a few hundred characters at most.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return quote.quote(body) or None
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("code", "message", "error", "detail") if data.get(k)]
        return quote.quote(": ".join(parts)) or None
    return None


@dataclass(frozen=True)
class Refusal:
    """A non-2xx answer: the request's method and path, the status, the body and its type."""

    method: str
    path: str
    status: int
    body: bytes
    content_type: str | None = None


def error_for_status(refusal: Refusal, quote: Redactor = PLAIN) -> T212Error:
    """Map a non-2xx answer to the error class and message a user can act on.

    Every piece of the answer quoted goes through ``quote`` (the client's redactor).
    """
    status, path, body, content_type = (
        refusal.status, refusal.path, refusal.body, refusal.content_type
    )  # fmt: skip
    method = refusal.method
    html_page = "html" in (content_type or "")
    message = server_message(body, quote) if not html_page else None
    where = f"{method} {quote(path)}"
    if status == 401:
        return AuthenticationError(
            f"{where}: 401 Unauthorized: check the API key and secret, and that they belong "
            "to the environment in use (live or demo keys work only where they were issued)",
            status=status,
            path=path,
        )
    if status == 403:
        match = _SCOPE.search(message or "")
        if match:
            scope = match.group(1)
            return PermissionDenied(
                f"{where}: 403 Forbidden: the API key lacks the scope '{scope}'; "
                "enable it for the key in Trading 212 (Settings > API) or skip this resource",
                scope=scope,
                status=status,
                path=path,
            )
        return PermissionDenied(
            f"{where}: 403 Forbidden ({message or 'no details'}): the key may be restricted "
            "to other IP addresses, or lack a permission",
            status=status,
            path=path,
        )
    if 300 <= status < 400:
        return BadRequest(
            f"{where}: HTTP {status} redirect refused (credentials are never sent to another "
            "location): check T212_BASE_URL",
            status=status,
            path=path,
        )
    if status == 404:
        return NotFound(f"{where}: 404 Not Found", status=status, path=path)
    if status == 429:
        return RateLimited(f"{where}: 429 Too Many Requests", status=status, path=path)
    if status == 408 or status >= 500:
        detail = message or describe_body(body, content_type, quote)
        return ServerError(
            f"{where}: HTTP {status} from the server ({detail})", status=status, path=path
        )
    return BadRequest(
        f"{where}: HTTP {status}: {message or describe_body(body, content_type, quote)}",
        status=status,
        path=path,
    )
