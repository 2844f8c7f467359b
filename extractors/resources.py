"""Every exported resource as a small declaration, and the one extract loop they share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from extractors.client import ApiResponse, T212Client

API = "/api/v0/equity"


@dataclass(frozen=True)
class Resource:
    """What to fetch and where it lands.

    kind: ``history`` (paginated, incremental by ``cursor``), ``snapshot`` (one answer per
    run, account-scoped), ``reference`` (a large global list refreshed when stale) or
    ``report`` (CSV files requested per year, see ``extractors.reports``).
    ``key`` and ``cursor`` are dotted paths into a raw item.
    """

    name: str
    path: str
    kind: str
    tables: tuple[str, ...]
    scope: str
    key: str | None = None
    cursor: str | None = None

    @property
    def account_scoped(self) -> bool:
        """Whether rows carry an account id (reference lists are shared)."""
        return self.kind != "reference"


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "account_summary",
            f"{API}/account/summary",
            "snapshot",
            ("account_summaries",),
            "account",
        ),
        Resource("positions", f"{API}/positions", "snapshot", ("positions",), "portfolio"),
        Resource(
            "instruments", f"{API}/metadata/instruments", "reference", ("instruments",), "metadata"
        ),
        Resource(
            "exchanges",
            f"{API}/metadata/exchanges",
            "reference",
            ("exchanges", "working_schedule_events"),
            "metadata",
        ),
        Resource(
            "dividends",
            f"{API}/history/dividends",
            "history",
            ("dividends",),
            "history:dividends",
            key="reference",
            cursor="paidOn",
        ),
        Resource(
            "orders",
            f"{API}/history/orders",
            "history",
            ("orders", "fills", "fill_taxes"),
            "history:orders",
            key="order.id",
            cursor="order.createdAt",
        ),
        Resource(
            "transactions",
            f"{API}/history/transactions",
            "history",
            ("transactions",),
            "history:transactions",
            key="reference",
            cursor="dateTime",
        ),
        # CSV reports, a year each: what the JSON lacks (taxes, interest, fees).
        Resource(
            "reports",
            f"{API}/history/exports",
            "report",
            ("activity",),
            "history:orders",
        ),
    )
}

# The order that suits the limits: the summary first (it names the account), cheap
# snapshots next, paginated history, and the slow reference lists last.
RUN_ORDER = (
    "account_summary",
    "positions",
    "dividends",
    "orders",
    "transactions",
    "exchanges",
    "instruments",
    "reports",
)
# Resources a run includes only when asked (``--with-reports`` or ``--only reports``).
ON_REQUEST = frozenset({"reports"})


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
    if resource.kind != "history":
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
