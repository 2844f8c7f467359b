"""Where a run publishes: the local data directory alone, or with the lake of a storage URL."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from flows.pipeline.settings import ALL_ACCOUNTS, Settings, SettingsError
from warehouse.store import WORK_DIR
from warehouse.uploads import recorded_worker

if TYPE_CHECKING:
    from warehouse.lake import Lake

__all__ = ["ALL_ACCOUNTS", "data_dir_lake", "lake_for", "leases_held", "worker_name"]


def worker_name(settings: Settings, account_names: Sequence[str] | None) -> str:
    """The name of this worker's published database in the lake.

    A run of every configured account publishes ``warehouse``; a run of some accounts
    (one deployment of a group) publishes under their names, so groups never overwrite
    each other's database. No account may take the name ``warehouse`` (see settings).
    """
    names = sorted(set(account_names or ()))
    if not names or names == sorted(a.name for a in settings.accounts):
        return ALL_ACCOUNTS
    return "+".join(names)


def lake_for(settings: Settings, account_names: Sequence[str] | None = None) -> Lake | None:
    """The lake of the storage URL for a run of ``account_names`` (None: every account),
    or None when everything stays local."""
    return _lake(settings, lambda: worker_name(settings, account_names))


def data_dir_lake(settings: Settings) -> Lake | None:
    """The lake for a command on the data directory (``import-csv``, ``rebuild``, ``sql``,
    ``status``): named as the last run there named its worker, so it publishes the same
    worker's database (``warehouse`` for a directory no run has used)."""
    return _lake(settings, lambda: recorded_worker(settings.data_dir / WORK_DIR) or ALL_ACCOUNTS)


def _lake(settings: Settings, name: Callable[[], str]) -> Lake | None:
    if settings.storage_url is None:
        return None
    if any(importlib.util.find_spec(name) is None for name in ("deltalake", "obstore")):
        raise SettingsError(
            "storage_url needs the lake libraries; install them with pip install 't212-etl[lake]'"
        )
    from warehouse.lake import Lake

    return Lake(settings.storage_url, name())


@contextlib.contextmanager
def leases_held(lake: Lake | None, accounts: Mapping[int, str]) -> Iterator[None]:
    """Hold the lake's lease of every account for the block (nothing without a lake).

    Only these accounts' rows are written to the lake in the block. Raises
    ``AccountBusy`` when another live process exports one of them; once a lease is lost
    (or cannot be renewed) the lake refuses writes with ``LeaseLost``.
    """
    if lake is None:
        yield
        return
    from warehouse.leases import Leases
    from warehouse.objectstore import ObjectStore

    # a client of their own: the leases are renewed while the lake's client has given up
    # on an unreachable store; the lake writes only while they hold (lake.store.fence)
    with Leases(ObjectStore(lake.url), accounts) as leases:
        lake.held = frozenset(int(a) for a in accounts)
        lake.store.fence = leases.check
        try:
            yield
        finally:
            lake.held = None
            lake.store.fence = None
