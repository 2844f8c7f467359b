"""The group commit: accounts ready to merge the same resource at once, merged by one of them.

Many accounts exported at once finish their history at the same moment, and each merge
costs mostly the fixed price of its statements and commit, paid one after another under
the warehouse's lock. Here a thread queues its merge, then waits for that lock; the first
to get it (the leader) merges every merge queued for the same resource in one set of
statements and one transaction (``warehouse.groupmerge``), and the others find their
outcome when their turn for the lock comes. Only what is already queued is grouped, so an
account alone never waits for partners that will not come, and merges as it always did.
A group that fails (a bad row of one account, a full disk) is rolled back whole and its
accounts merged again one by one: each account stays all or nothing, and one account's
failure is its own, with its own error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from warehouse.groupmerge import Ready, groupable, merge_group
from warehouse.merge import Load, MergeCounts

log = logging.getLogger("t212_etl")

# rows one group merges at most (those of one merge larger than this merge alone): bounds
# the memory its accounts' rows take while they wait in Arrow, as one history slice does
GROUP_ROWS = 100_000

Counts = dict[str, MergeCounts]
Transaction = Callable[[Callable[[duckdb.DuckDBPyConnection], list[Counts]]], list[Counts]]


@dataclass(eq=False)
class Member:
    """One account's merge of a resource, handed to :meth:`GroupCommit.merge`.

    ``key`` names what may merge together (the resource and its tables); ``rows`` counts
    its rows; ``ready`` gives its rows to merge in a group (None: it merges alone); ``alone``
    merges it on its own, committed, as it would without a group.
    """

    key: tuple
    load: Load
    rows: int
    ready: Callable[[], Ready | None]
    alone: Callable[[], Counts]
    settled: bool = False
    counts: Counts = field(default_factory=dict)
    error: BaseException | None = None

    def settle(self, counts: Counts | None = None, error: BaseException | None = None) -> None:
        """Record the outcome the member's thread returns (or raises)."""
        self.counts, self.error, self.settled = counts or {}, error, True

    def outcome(self) -> Counts:
        """The counts per table, or the merge's error raised."""
        if self.error is not None:
            raise self.error
        return self.counts


class GroupCommit:
    """Merges of a resource that threads hand in at once, committed together by a leader.

    ``lock`` is the warehouse's (whoever holds it may write); ``transaction`` runs work
    in one transaction on the warehouse's connection.
    """

    def __init__(self, lock: threading.RLock, transaction: Transaction) -> None:
        self._lock = lock
        self._transaction = transaction
        self._queued: dict[tuple, list[Member]] = {}
        self._queue_lock = threading.Lock()

    def merge(self, member: Member) -> Counts:
        """Merge ``member``, in a group with those queued beside it; its counts per table.

        Raises the error of its merge, as merging it alone would.
        """
        with self._queue_lock:
            self._queued.setdefault(member.key, []).append(member)
        with self._lock:
            # a leader settles every member it takes before it lets the lock go
            while not member.settled:
                self._lead(member.key)
        return member.outcome()

    def waiting(self) -> int:
        """How many merges are queued, waiting for a leader."""
        with self._queue_lock:
            return sum(len(queue) for queue in self._queued.values())

    def _take(self, key: tuple) -> list[Member]:
        """The queued members of ``key`` one group merges: one per account, at most
        ``GROUP_ROWS`` rows (the first whatever its size); the rest wait for the next."""
        group: list[Member] = []
        later: list[Member] = []
        accounts, rows = set(), 0
        with self._queue_lock:
            for member in self._queued.pop(key, []):
                fits = not group or rows + member.rows <= GROUP_ROWS
                if fits and member.load.account_id not in accounts:
                    group.append(member)
                    accounts.add(member.load.account_id)
                    rows += member.rows
                else:
                    later.append(member)
            if later:
                self._queued[key] = later
        return group

    def _lead(self, key: tuple) -> None:
        group = self._take(key)
        try:
            if len(group) > 1:
                self._merge_together(group)
            for member in group:
                if not member.settled:
                    _merge_alone(member)
        except BaseException as exc:  # an interrupt: no member may wait for ever
            for member in group:
                if not member.settled:
                    member.settle(error=exc)
            raise

    def _merge_together(self, group: list[Member]) -> None:
        """Merge the members that can in one transaction, settling them; on a failure
        none is settled (nothing was written), and each merges alone next."""
        ready = []
        for member in group:
            try:
                rows = member.ready()
                if rows is not None and groupable(rows):
                    ready.append((member, rows))
            except Exception as exc:  # its own merge meets the cause again, and reports it
                log.debug("%s: merged alone (%s)", member.load.resource, type(exc).__name__)
        if len(ready) < 2:
            return
        try:
            counts = self._transaction(lambda con: merge_group(con, [r for _, r in ready]))
        except Exception as exc:
            # each account's own merge meets its cause again and reports it as it always did
            log.info(
                "%s: the merge of %d accounts together failed (%s); merging them one by one",
                group[0].load.resource,
                len(ready),
                type(exc).__name__,
            )
            return
        for (member, _), mine in zip(ready, counts, strict=True):
            member.settle(mine)


def _merge_alone(member: Member) -> None:
    try:
        member.settle(member.alone())
    except Exception as exc:
        member.settle(error=exc)
