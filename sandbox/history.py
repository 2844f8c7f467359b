"""A lazily generated history (item i from seed, account and i) and the paging over it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sandbox.config import AccountSpec
from sandbox.instruments import Instrument
from sandbox.timeline import Timeline

MAX_SCAN = 200_000  # a ticker filter gives up after this many non-matching items


@dataclass(frozen=True)
class Basis:
    """What every series of one account is generated from: the seed, the account, the
    instruments it trades, and whether answers carry fields the specification lacks."""

    seed: int
    spec: AccountSpec
    universe: tuple[Instrument, ...]
    extra_fields: bool = False


@dataclass(frozen=True)
class Page:
    """Items of one page (newest first) and the index where the next page starts (-1: none)."""

    items: list[dict]
    next_index: int


class Series:
    """A history of one resource for one account; subclasses build item ``i``.

    Nothing is stored per item: the time of item ``i`` comes from the timeline and every
    other field from a generator seeded with (seed, account, kind, i).
    """

    kind = ""
    group = 3

    def __init__(self, basis: Basis, count: int, start_ms: int, end_ms: int) -> None:
        """``count`` items spread between the two instants."""
        self.seed = basis.seed
        self.spec = basis.spec
        self.universe = basis.universe
        self.extra_fields = basis.extra_fields
        self.base_count = count
        self.timeline = Timeline.spread(count, start_ms, end_ms, self.group, basis.seed)
        self._truth_lock = threading.Lock()
        self._truth_upto = 0
        self._totals: dict[str, object] = self.empty_totals()

    @property
    def count(self) -> int:
        """Number of items now."""
        return self.timeline.count

    def time_ms(self, i: int) -> int:
        """Internal (unique, millisecond) instant of item ``i``."""
        return self.timeline.time_ms(i)

    def extend(self, count: int, end_ms: int) -> None:
        """Append ``count`` newer items up to ``end_ms`` (the reference swap is atomic)."""
        self.timeline = self.timeline.extended(
            count, end_ms, self.seed + len(self.timeline.segments)
        )

    def item(self, i: int) -> dict:
        """The JSON-ready item ``i`` (0 = oldest)."""
        raise NotImplementedError

    def ticker(self, item: dict) -> str | None:
        """The ticker of an item, for the ``ticker`` filter."""
        return item.get("ticker")

    def empty_totals(self) -> dict[str, object]:
        """Zeroed truth figures of this resource."""
        return {"count": 0, "amount": Decimal(0)}

    def add_to_totals(self, totals: dict, item: dict) -> None:
        """Fold one item into the truth figures."""
        raise NotImplementedError

    def truth(self) -> dict:
        """Exact totals over every item, computed incrementally (items never change)."""
        with self._truth_lock:
            timeline = self.timeline
            for i in range(self._truth_upto, timeline.count):
                self.add_to_totals(self._totals, self.item(i))
            self._truth_upto = timeline.count
            return dict(self._totals)

    def ascending(self, from_ms: int, to_ms: int) -> Iterator[tuple[int, dict]]:
        """(instant, item) for items with ``from_ms <= instant <= to_ms``, oldest first."""
        timeline = self.timeline
        lo = timeline.index_at_or_before(from_ms - 1) + 1
        hi = timeline.index_at_or_before(to_ms)
        for i in range(lo, hi + 1):
            yield timeline.time_ms(i), self.item(i)

    def page(
        self, start: int, limit: int, ticker: str | None = None, oldest_ms: int | None = None
    ) -> Page:
        """Up to ``limit`` items from index ``start`` downwards, optionally of one ticker;
        none older than ``oldest_ms`` (a horizon) when given."""
        items: list[dict] = []
        floor = self.timeline.index_at_or_before(oldest_ms - 1) + 1 if oldest_ms else 0
        i = min(start, self.count - 1)
        scanned = 0
        while i >= floor and len(items) < limit and scanned < MAX_SCAN:
            item = self.item(i)
            if ticker is None or self.ticker(item) == ticker:
                items.append(item)
            else:
                scanned += 1
            i -= 1
        if ticker is not None:
            while i >= floor and scanned < MAX_SCAN and self.ticker(self.item(i)) != ticker:
                i -= 1
                scanned += 1
            if scanned >= MAX_SCAN:
                i = -1
        return Page(items, i if i >= floor else -1)
