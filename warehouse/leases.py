"""Account leases in the object store: one process writes an account's data at a time.

A lease is an object ``leases/<account id>.json`` created only if absent, so of two
processes given the same account exactly one gets it; the other stops before it writes
anything, with one line naming the holder. Every later change is conditional on the
version its holder last wrote (fencing): a renewal or a release by a process that is no
longer the holder fails instead of overwriting the new holder's lease, and that process
learns it lost the lease. The holder renews every ``RENEW_EVERY`` and writes to the lake
only while its last successful renewal is younger than ``term - MARGIN`` (measured on
its own monotonic clock, from before the renewal was sent): a holder that cannot renew
stops writing before anyone may take its lease.

A lease is free when released, when the store's clock says it was last written more
than its term ago (the store's modification time against the time of an object written
just now: no two hosts' clocks are compared), or at once when its holder is known dead:
a process that no longer exists on this host, in this PID namespace, since this boot.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warehouse.objectstore import ObjectStore, ObjectStoreError

log = logging.getLogger("t212_etl")

LEASE_PREFIX = "leases"
TERM = timedelta(minutes=30)
RENEW_EVERY = timedelta(minutes=5)
# the holder stops writing this long before its term ends: more than one bounded store
# call (about a minute), so a write begun in time has ended before a taker may start
MARGIN = timedelta(minutes=5)


class AccountBusy(Exception):
    """Another live process holds the lease of an account this run was given."""


class LeaseLost(ObjectStoreError):
    """This process no longer holds a lease it took, or cannot tell: it must not write."""


def process_identity() -> str:
    """This boot and PID namespace: a pid means the same process only where they match.

    Containers that share a hostname have PID namespaces of their own, so a pid seen in
    another one says nothing here. Empty where the system does not tell (then a holder's
    pid is never checked, and only its term frees its lease).
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}/{namespace}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def is_free(holder: Mapping[str, object], age: timedelta, host: str, identity: str) -> bool:
    """Whether a lease may be taken: released, not renewed within its term (``age`` is its
    age by the store's clock), or its holder dead in this very process space."""
    if holder.get("released_at"):
        return True
    try:
        term = timedelta(seconds=float(str(holder.get("term_seconds", TERM.total_seconds()))))
    except ValueError:
        term = TERM
    if age > term:
        return True
    if identity and holder.get("host") == host and holder.get("process") == identity:
        try:
            return not _alive(int(str(holder.get("pid"))))
        except ValueError:
            return False
    return False


@dataclass(frozen=True)
class LeaseTerms:
    """How long a lease lasts, how often its holder renews it, and how long before its
    end the holder stops writing."""

    term: timedelta = TERM
    renew_every: timedelta = RENEW_EVERY
    margin: timedelta = MARGIN


class Leases:
    """The leases of a run's accounts; use as a context manager around the export."""

    def __init__(
        self,
        store: ObjectStore,
        accounts: Mapping[int, str],
        *,
        terms: LeaseTerms = LeaseTerms(),
        monotonic: Callable[[], float] = time.monotonic,
        identity: str | None = None,
    ) -> None:
        self.store = store
        self.accounts = dict(accounts)
        self.term, self.margin = terms.term, terms.margin
        self._renew_every = terms.renew_every
        self._monotonic = monotonic
        # account -> (version this process wrote, monotonic time before it was sent)
        self._held: dict[int, tuple[dict[str, str], float]] = {}
        self._lost: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.host = socket.gethostname()
        self.identity = process_identity() if identity is None else identity
        self.token = uuid.uuid4().hex
        self._started = datetime.now(UTC).isoformat()

    def _key(self, account_id: int) -> str:
        return f"{LEASE_PREFIX}/{int(account_id)}.json"

    def _body(self, **extra: object) -> bytes:
        holder = {
            "host": self.host,
            "pid": os.getpid(),
            "process": self.identity,
            "token": self.token,
            "term_seconds": self.term.total_seconds(),
            "started_at": self._started,
            "written_at": datetime.now(UTC).isoformat(),  # for people: never compared
            **extra,
        }
        return json.dumps(holder).encode()

    def __enter__(self) -> Leases:
        self.take()
        self._renewer = threading.Thread(target=self._renew, name="lease-renewal", daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def take(self) -> None:
        """Take every account's lease, or none: raises ``AccountBusy`` naming a holder."""
        try:
            for account_id in self.accounts:
                self._take(account_id)
        except BaseException:
            self.release()
            raise

    def _take(self, account_id: int) -> None:
        key = self._key(account_id)
        sent = self._monotonic()
        version = self.store.create(key, self._body())
        if version is None:
            found = self.store.read(key)
            if found is None:  # removed meanwhile (by hand): one more try
                version = self.store.create(key, self._body())
            else:
                sent = self._monotonic()
                version = self._take_over(account_id, key, *found)
        if version is None:
            raise AccountBusy(
                f"account {self.accounts[account_id]} ({account_id}) was taken by another "
                "process at the same moment; give each worker its own accounts"
            )
        with self._lock:
            self._held[account_id] = (version, sent)

    def _take_over(
        self, account_id: int, key: str, data: bytes, current: dict[str, str], modified: datetime
    ) -> dict[str, str] | None:
        """Replace a free lease found at version ``current``; None when another was faster."""
        try:
            holder = json.loads(data)
        except ValueError:
            holder = None
        holder = holder if isinstance(holder, dict) else {}
        # a released lease is free at any age: no need to read the store's clock
        age = timedelta(0) if holder.get("released_at") else self.store.now(LEASE_PREFIX) - modified
        if not is_free(holder, age, self.host, self.identity):
            raise AccountBusy(self._busy(account_id, holder, key))
        return self.store.replace(key, self._body(), current)

    def _busy(self, account_id: int, holder: Mapping[str, object], key: str) -> str:
        return (
            f"account {self.accounts[account_id]} ({account_id}) is being exported by "
            f"another process (pid {holder.get('pid')} on {holder.get('host')}, since "
            f"{holder.get('started_at')}); give each worker its own accounts, or remove "
            f"{self.store.url}/{key} if that process is gone"
        )

    def check(self) -> None:
        """Raise ``LeaseLost`` unless every lease is held and was renewed recently enough
        that no other process may take it before a write begun now has ended."""
        with self._lock:
            lost = [self.accounts[a] for a in self._lost]
            limit = (self.term - self.margin).total_seconds()
            late = [
                self.accounts[a]
                for a, (_, sent) in self._held.items()
                if self._monotonic() - sent > limit
            ]
        if lost:
            raise LeaseLost(
                f"the lease of {', '.join(lost)} was taken by another process; this run "
                "writes nothing more to the lake, the changes stay pending for the next run"
            )
        if late:
            raise LeaseLost(
                f"the lease of {', '.join(late)} could not be renewed for "
                f"{limit / 60:g} minutes (the store does not answer); this run writes "
                "nothing more to the lake, the changes stay pending for the next run"
            )

    def renew(self) -> None:
        """Renew every held lease once; a lease that moved on is lost, a failed call is
        tried again at the next renewal."""
        with self._lock:
            held = dict(self._held)
        self.store.reconnect()  # a store that did not answer last time: each round asks again
        for account_id, (version, _) in held.items():
            sent = self._monotonic()
            try:
                renewed = self.store.replace(self._key(account_id), self._body(), version)
            except ObjectStoreError as exc:
                log.warning("lease of account %s not renewed (%s)", account_id, exc)
                continue
            with self._lock:
                if renewed is None:
                    self._held.pop(account_id, None)
                    self._lost.append(account_id)
                else:
                    self._held[account_id] = (renewed, sent)

    def _renew(self) -> None:
        while not self._stop.wait(self._renew_every.total_seconds()):
            self.renew()

    def release(self) -> None:
        """Stop renewing and mark every lease this run still holds released, each only if
        it is still this run's; safe to call twice."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        with self._lock:
            held, self._held = self._held, {}
        released = datetime.now(UTC).isoformat()
        self.store.reconnect()  # if the store does not answer, the first failure ends the loop
        for account_id, (version, _) in held.items():
            try:
                self.store.replace(self._key(account_id), self._body(released_at=released), version)
            except ObjectStoreError as exc:  # it runs out at the end of its term instead
                log.warning("lease of account %s not released (%s)", account_id, exc)
