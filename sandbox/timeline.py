"""Item times of a history: a monotone function of the item index, inverted by binary search."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Segment:
    """Items ``first .. first+count-1`` spread over ``[start_ms, end_ms)`` in groups.

    Items of one group share a whole second and differ by a millisecond, so a page
    boundary often falls inside a second while every item keeps a unique instant.
    """

    first: int
    count: int
    start_ms: int
    end_ms: int
    group: int
    salt: int

    def __post_init__(self) -> None:
        if self.count and self._spacing < self.group:
            raise ValueError(
                f"{self.count} items do not fit between {self.start_ms} and {self.end_ms}"
            )

    @cached_property
    def _groups(self) -> int:
        return -(-self.count // self.group)

    @cached_property
    def _spacing(self) -> int:
        return (self.end_ms - self.start_ms) // max(1, self._groups)

    def time_ms(self, j: int) -> int:
        """Instant of the segment's ``j``-th item (0 = oldest)."""
        k, r = divmod(j, self.group)
        spacing = self._spacing
        base = self.start_ms + 1 + k * spacing
        if spacing >= 2000 + self.group:
            # a stable pseudo-random jitter, then up to the next whole second
            frac = ((k * 2654435761 + self.salt) & 0xFFFFFFFF) / 2**32
            base += int(frac * (spacing - 2000 - self.group))
            base = -(-base // 1000) * 1000
        return base + r


class Timeline:
    """An immutable sequence of segments; advancing the clock appends a new one."""

    def __init__(self, segments: tuple[Segment, ...]) -> None:
        self.segments = segments
        self._firsts = [s.first for s in segments]
        self._starts = [s.start_ms for s in segments]
        self.count = sum(s.count for s in segments)

    @classmethod
    def spread(cls, count: int, start_ms: int, end_ms: int, group: int, salt: int) -> Timeline:
        """A timeline of ``count`` items between two instants."""
        return cls((Segment(0, count, start_ms, end_ms, group, salt),))

    def extended(self, count: int, end_ms: int, salt: int) -> Timeline:
        """A new timeline with ``count`` more items after the current end, up to ``end_ms``."""
        last = self.segments[-1]
        seg = Segment(self.count, count, last.end_ms, end_ms, last.group, salt)
        return Timeline((*self.segments, seg))

    def time_ms(self, i: int) -> int:
        """Instant of item ``i`` (0 = oldest)."""
        if not 0 <= i < self.count:
            raise IndexError(i)
        seg = self.segments[bisect.bisect_right(self._firsts, i) - 1]
        return seg.time_ms(i - seg.first)

    def times(self, lo: int, hi: int) -> Iterator[int]:
        """Instants of items ``lo .. hi-1`` in order (a walk without a search per item)."""
        for seg in self.segments:
            for j in range(
                max(lo, seg.first) - seg.first, min(hi, seg.first + seg.count) - seg.first
            ):
                yield seg.time_ms(j)

    def next_ms(self, i: int) -> int:
        """A lower bound of item ``i + 1``'s instant: its instant, or if it is not there yet
        (the last item of a segment) one past the segment's end, where the next one starts.
        """
        seg = self.segments[bisect.bisect_right(self._firsts, i) - 1]
        j = i - seg.first + 1
        return seg.time_ms(j) if j < seg.count else seg.end_ms + 1

    def index_at_or_before(self, ms: int) -> int:
        """Index of the newest item whose instant is at or before ``ms``; -1 if none."""
        pos = bisect.bisect_right(self._starts, ms) - 1
        while pos >= 0 and self.segments[pos].count == 0:
            pos -= 1
        if pos < 0:
            return -1
        seg = self.segments[pos]
        lo, hi = 0, seg.count  # invariant: items < lo are <= ms, items >= hi are > ms
        while lo < hi:
            mid = (lo + hi) // 2
            if seg.time_ms(mid) <= ms:
                lo = mid + 1
            else:
                hi = mid
        return seg.first + lo - 1
