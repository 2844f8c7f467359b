"""The one extract loop every resource shares: pages newest first, stopping at the cursor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from extractors.client import ApiResponse, T212Client
from extractors.resources import Kind, Resource


def dig(item: Any, dotted: str) -> Any:
    """The value at a dotted path of nested dicts, or None."""
    for part in dotted.split("."):
        if not isinstance(item, dict):
            return None
        item = item.get(part)
    return item


def parse_time(value: Any) -> datetime | None:
    """An API timestamp (``Z`` or any offset, with or without fractions) in UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def newest_time(
    resource: Resource, items: list[Any], *, not_after: datetime | None = None
) -> datetime | None:
    """The newest cursor time among ``items``, leaving out times after ``not_after``.

    A time after the run started is a clock that lies (a bad timestamp, a skewed server):
    as a watermark it would make every later run stop before the items it has not seen.
    """
    times = [t for t in (parse_time(dig(i, resource.cursor or "")) for i in items) if t]
    if not_after is not None:
        times = [t for t in times if t <= not_after]
    return max(times) if times else None


def ends_walk(
    resource: Resource, items: list[Any], watermark: datetime, stop_before: datetime
) -> bool:
    """True when a page holds nothing newer than ``watermark`` and reaches ``stop_before``.

    A page with anything new (or anything without a time) is always followed by the next
    one, so one old item among new ones (a limit order placed long ago and filled today is
    listed by its creation time) never stops the walk; a night without activity still
    costs one page.
    """
    times = [parse_time(dig(i, resource.cursor or "")) for i in items]
    if any(t is None or t > watermark for t in times):
        return False
    return any(t < stop_before for t in times)


def fetch_pages(
    client: T212Client,
    resource: Resource,
    *,
    watermark: datetime | None = None,
    overlap: timedelta = timedelta(days=2),
    on_page: Callable[[ApiResponse], None] | None = None,
) -> Iterator[ApiResponse]:
    """Yield the raw pages of ``resource`` newest first.

    For history with a ``watermark`` (the newest time already stored), stop after the
    first page that holds nothing newer and reaches ``watermark - overlap`` (see
    :func:`ends_walk`); the overlap re-reads items that share a timestamp or arrived late,
    and merging on the natural key de-duplicates them.
    """
    if resource.kind != Kind.HISTORY:
        page = client.get(resource.path)
        if on_page:
            on_page(page)
        yield page
        return
    stop_before = watermark - overlap if watermark is not None else None
    pages = client.paginate(resource.path)
    try:
        for page in pages:
            if on_page:
                on_page(page)
            yield page
            items = page.data["items"]
            if watermark and stop_before and ends_walk(resource, items, watermark, stop_before):
                return
    finally:
        pages.close()
