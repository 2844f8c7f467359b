"""Following ``nextPagePath`` safely: accepted forms, refusals, repeats and a page cap."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from extractors.answers import ApiResponse
from extractors.errors import MalformedResponse, PaginationError
from extractors.redaction import PLAIN, Redactor

PAGE_LIMIT = 50
API_PREFIX = "/api/v0"


def _canonical(path: str, query: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(sorted(query))}"


def resolve_next_page(next_path: str, endpoint: str, base_url: str, quote: Redactor = PLAIN) -> str:
    """Turn a ``nextPagePath`` into a request path on ``endpoint``, or raise PaginationError.

    Accepts an absolute path (with or without the ``/api/v0`` prefix), a full URL on the
    same host, or a bare query string; refuses anything that points elsewhere. What the
    message quotes of it goes through ``quote``.
    """
    raw = next_path.strip()
    if not raw:
        raise PaginationError(f"{endpoint}: empty nextPagePath", path=endpoint)
    if raw.startswith("?") or ("=" in raw and "/" not in raw.split("?", 1)[0]):
        parts = urlsplit("?" + raw.lstrip("?"))
        path = endpoint
    else:
        parts = urlsplit(raw)
        if parts.scheme or parts.netloc:
            base = urlsplit(base_url)
            if (parts.scheme, parts.netloc.lower()) != (base.scheme, base.netloc.lower()):
                raise PaginationError(
                    f"{endpoint}: nextPagePath points to another host "
                    f"({quote.quote(parts.netloc, 100)}); "
                    "refusing to follow it",
                    path=endpoint,
                )
        path = parts.path
        if path.startswith("/") and not path.startswith(API_PREFIX + "/"):
            path = API_PREFIX + path
    if path.rstrip("/") != endpoint.rstrip("/"):
        raise PaginationError(
            f"{endpoint}: nextPagePath points to another endpoint ({quote.quote(path, 100)}); "
            "refusing to follow it",
            path=endpoint,
        )
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "limit"]
    query.append(("limit", str(PAGE_LIMIT)))
    return f"{endpoint}?{urlencode(query)}"


@dataclass(frozen=True)
class PageSource:
    """Where pages come from: the client's GET, the host they must stay on, and the
    redactor that every quoted piece of an answer goes through."""

    get: Callable[[str], ApiResponse]
    base_url: str
    quote: Redactor = PLAIN


def iterate_pages(
    source: PageSource,
    endpoint: str,
    params: Mapping[str, Any] | None = None,
    *,
    max_pages: int = 100_000,
) -> Iterator[ApiResponse]:
    """Yield every page of ``endpoint`` newest first, with ``limit=50``.

    Stops at a null ``nextPagePath``; raises PaginationError on a cursor that repeats or
    points elsewhere, and past ``max_pages``. Closing the iterator stops early.
    """
    query = [(k, str(v)) for k, v in (params or {}).items() if k != "limit"]
    query.append(("limit", str(PAGE_LIMIT)))
    path = f"{endpoint}?{urlencode(query)}"
    seen: set[str] = set()
    for _ in range(max_pages):
        parts = urlsplit(path)
        key = _canonical(parts.path, parse_qsl(parts.query, keep_blank_values=True))
        if key in seen:
            raise PaginationError(
                f"{endpoint}: the page cursor did not advance "
                f"({source.quote.quote(parts.query, 100)}); stopping instead of looping",
                path=endpoint,
            )
        seen.add(key)
        page = source.get(path)
        if not isinstance(page.data, dict) or not isinstance(page.data.get("items"), list):
            raise MalformedResponse(
                f"{endpoint}: a page without an 'items' list (got {type(page.data).__name__})",
                status=page.status,
                path=endpoint,
            )
        yield page
        next_path = page.data.get("nextPagePath")
        if next_path is None or not page.data["items"]:
            return
        if not isinstance(next_path, str):
            raise PaginationError(f"{endpoint}: nextPagePath is not a string", path=endpoint)
        path = resolve_next_page(next_path, endpoint, source.base_url, source.quote)
    raise PaginationError(
        f"{endpoint}: more than {max_pages} pages; raise the page cap if the history is "
        "really that long",
        path=endpoint,
    )
