"""Account leases in the object store: one process exports an account at a time.

A lease is an object ``leases/<account id>.json`` created only if absent, so of two
processes given the same account exactly one gets it; the other stops before it writes
anything, with one line naming the holder. The holder renews it while it runs and
removes it at the end. A lease left by a killed process is stale once its holder is
known dead (same host, no such process) or it has not been renewed for ``STALE_AFTER``;
it is then taken over by a conditional replace, so two processes cannot both take it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from warehouse.objectstore import ObjectStore

LEASE_PREFIX = "leases"
RENEW_EVERY = timedelta(minutes=5)
STALE_AFTER = timedelta(minutes=30)


class AccountBusy(Exception):
    """Another live process holds the lease of an account this run was given."""


def _now() -> datetime:
    return datetime.now(UTC)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def is_stale(holder: Mapping[str, object], now: datetime, host: str) -> bool:
    """Whether a lease's holder is gone: dead on this host, or silent past ``STALE_AFTER``."""
    try:
        renewed = datetime.fromisoformat(str(holder["renewed_at"]))
        pid = int(str(holder["pid"]))
    except (KeyError, ValueError):
        return True  # not a lease this program wrote whole
    if holder.get("host") == host and not _alive(pid):
        return True
    return now - renewed > STALE_AFTER


class Leases:
    """The leases of a run's accounts; use as a context manager around the export."""

    def __init__(
        self,
        store: ObjectStore,
        accounts: Mapping[int, str],
        *,
        clock: Callable[[], datetime] = _now,
        renew_every: timedelta = RENEW_EVERY,
    ) -> None:
        self.store = store
        self.accounts = dict(accounts)
        self._clock = clock
        self._renew_every = renew_every
        self._held: list[int] = []
        self._started = clock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.host = socket.gethostname()

    def _key(self, account_id: int) -> str:
        return f"{LEASE_PREFIX}/{int(account_id)}.json"

    def _body(self) -> bytes:
        holder = {
            "host": self.host,
            "pid": os.getpid(),
            "started_at": self._started.isoformat(),
            "renewed_at": self._clock().isoformat(),
        }
        return json.dumps(holder).encode()

    def __enter__(self) -> Leases:
        try:
            for account_id in self.accounts:
                self._take(account_id)
        except BaseException:
            self.release()
            raise
        self._renewer = threading.Thread(target=self._renew, name="lease-renewal", daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _take(self, account_id: int) -> None:
        key = self._key(account_id)
        if self.store.put_bytes(key, self._body(), create=True):
            self._held.append(account_id)
            return
        found = self.store.get_versioned(key)
        try:
            holder = json.loads(found[0]) if found is not None else {}
        except ValueError:
            holder = {}
        if found is not None and not is_stale(holder, self._clock(), self.host):
            raise AccountBusy(
                f"account {self.accounts[account_id]} ({account_id}) is being exported by "
                f"another process (pid {holder.get('pid')} on {holder.get('host')}, since "
                f"{holder.get('started_at')}); give each worker its own accounts, or remove "
                f"{self.store.url}/{key} if that process is gone"
            )
        etag = found[1] if found is not None else None
        if not self.store.replace_bytes(key, self._body(), etag):
            raise AccountBusy(
                f"account {self.accounts[account_id]} ({account_id}) was taken over by another "
                "process at the same moment; give each worker its own accounts"
            )
        self._held.append(account_id)

    def _renew(self) -> None:
        while not self._stop.wait(self._renew_every.total_seconds()):
            for account_id in list(self._held):
                try:
                    self.store.put_bytes(self._key(account_id), self._body())
                except Exception:  # a missed renewal is retried at the next tick
                    continue

    def release(self) -> None:
        """Stop renewing and remove every lease this run holds; safe to call twice."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        while self._held:
            self.store.delete(self._key(self._held.pop()))
