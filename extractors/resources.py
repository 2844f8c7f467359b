"""Every exported resource declared once: endpoint, kind, limit, scope, key, cursor, tables.

The run order is the order of the declarations; the client's documented limits, the
resources a run takes only on request, the scope a 403 names, the exporter a run uses
(one per kind), the sandbox's endpoints and the README's table all come from here. Its
rows are mapped by the module named after it, ``transforms.<name>``: ``normalise`` and,
for history, the columnar ``normalise_pages`` (bound by name, as this package imports
none of the others).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

API = "/api/v0/equity"


class Kind(StrEnum):
    """How a resource is fetched and what its rows are to the warehouse."""

    SNAPSHOT = "snapshot"  # one answer per run and account, kept as that run's snapshot
    HISTORY = "history"  # paginated newest first, read up to its cursor, merged by key
    REFERENCE = "reference"  # a large list shared by the accounts, replaced when stale
    REPORTS = "reports"  # CSV reports requested a year at a time, merged by event


@dataclass(frozen=True)
class Resource:
    """What to fetch, how often the API allows it, and where it lands.

    ``limit`` is the documented (requests, seconds) of its endpoint; ``scope`` the API key
    permission it needs; ``key`` and ``cursor`` are dotted paths into a raw item;
    ``on_request`` resources run only when asked (``--with-reports`` or ``--only``).
    """

    name: str
    path: str
    kind: Kind
    limit: tuple[int, float]
    scope: str
    tables: tuple[str, ...]
    key: str | None = None
    cursor: str | None = None
    on_request: bool = False

    @property
    def rows_module(self) -> str:
        """The module that maps its answers to rows: ``normalise`` (+ ``normalise_pages``)."""
        return f"transforms.{self.name}"

    @property
    def account_scoped(self) -> bool:
        """Whether rows carry an account id (reference lists are shared)."""
        return self.kind != Kind.REFERENCE


# In run order, the order that suits the limits: the summary first (it names the
# account), cheap snapshots next, paginated history, and the slow reference lists last.
RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource(
            "account_summary",
            f"{API}/account/summary",
            Kind.SNAPSHOT,
            (1, 5.0),
            "account",
            ("account_summaries",),
        ),
        Resource(
            "positions", f"{API}/positions", Kind.SNAPSHOT, (1, 1.0), "portfolio", ("positions",)
        ),
        Resource(
            "pending_orders",
            f"{API}/orders",
            Kind.SNAPSHOT,
            (1, 5.0),
            "orders:read",
            ("pending_orders",),
        ),
        Resource(
            "dividends",
            f"{API}/history/dividends",
            Kind.HISTORY,
            (6, 60.0),
            "history:dividends",
            ("dividends",),
            key="reference",
            cursor="paidOn",
        ),
        Resource(
            "orders",
            f"{API}/history/orders",
            Kind.HISTORY,
            (6, 60.0),
            "history:orders",
            ("orders", "fills", "fill_taxes"),
            key="order.id",
            cursor="order.createdAt",
        ),
        Resource(
            "transactions",
            f"{API}/history/transactions",
            Kind.HISTORY,
            (6, 60.0),
            "history:transactions",
            ("transactions",),
            key="reference",
            cursor="dateTime",
        ),
        Resource(
            "exchanges",
            f"{API}/metadata/exchanges",
            Kind.REFERENCE,
            (1, 30.0),
            "metadata",
            ("exchanges", "working_schedule_events"),
        ),
        Resource(
            "instruments",
            f"{API}/metadata/instruments",
            Kind.REFERENCE,
            (1, 50.0),
            "metadata",
            ("instruments",),
        ),
        # CSV reports, a year each: what the JSON lacks (taxes, interest, fees). Listed
        # with GET (its limit here), requested with POST, downloaded from a signed link.
        Resource(
            "reports",
            f"{API}/history/exports",
            Kind.REPORTS,
            (1, 60.0),
            "history:orders",
            ("activity",),
            on_request=True,
        ),
    )
}
RUN_ORDER = tuple(RESOURCES)
ON_REQUEST = frozenset(name for name, r in RESOURCES.items() if r.on_request)

# (requests, period in seconds) of every endpoint the client calls, from the published
# limits; the response headers correct them. Limits keyed "METHOD path" are per method.
DOCUMENTED_LIMITS: dict[str, tuple[int, float]] = {
    **{r.path: r.limit for r in RESOURCES.values() if r.kind != Kind.REPORTS},
    **{f"GET {r.path}": r.limit for r in RESOURCES.values() if r.kind == Kind.REPORTS},
    f"POST {RESOURCES['reports'].path}": (1, 30.0),
    f"{API}/account/info": (1, 1.0),
}
