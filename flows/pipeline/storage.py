"""Where a run publishes: the local data directory alone, or with the lake of a storage URL."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from flows.pipeline.settings import ALL_ACCOUNTS, Settings, SettingsError, load_settings
from warehouse.publisher import LocalParquet, Publisher
from warehouse.store import WORK_DIR
from warehouse.uploads import recorded_worker

__all__ = [
    "ALL_ACCOUNTS",
    "command_publisher",
    "data_dir_publisher",
    "publisher_for",
    "worker_name",
]


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


def publisher_for(settings: Settings, account_names: Sequence[str] | None = None) -> Publisher:
    """Where a run of ``account_names`` (None: every account) publishes: the lake of the
    storage URL, named after its accounts, or the local Parquet files."""
    return _publisher(settings, lambda: worker_name(settings, account_names))


def data_dir_publisher(settings: Settings) -> Publisher:
    """Where a command on the data directory (``import-csv``, ``rebuild``, ``sql``,
    ``status``) publishes: a lake is named as the last run there named its worker, so it
    publishes the same worker's database (``warehouse`` for a directory no run has used)."""
    return _publisher(
        settings, lambda: recorded_worker(settings.data_dir / WORK_DIR) or ALL_ACCOUNTS
    )


def command_publisher(
    data_dir: str | Path | None, config: str | Path | None, storage_url: str | None
) -> Publisher:
    """The publisher of a command given these options (see :func:`data_dir_publisher`);
    without valid settings the local files are read, unless a storage URL was given."""
    try:
        settings = load_settings(data_dir=data_dir, config=config, storage_url=storage_url)
    except SettingsError:
        if storage_url or os.environ.get("T212_STORAGE_URL"):
            raise
        # reading the local warehouse needs no accounts
        return LocalParquet(Path(data_dir or os.environ.get("T212_DATA_DIR") or "data"))
    return data_dir_publisher(settings)


def _publisher(settings: Settings, name: Callable[[], str]) -> Publisher:
    """The one place that asks whether there is a lake: a storage URL, or not."""
    if settings.storage_url is None:
        return LocalParquet(settings.data_dir)
    if any(importlib.util.find_spec(name) is None for name in ("deltalake", "obstore")):
        raise SettingsError(
            "storage_url needs the lake libraries; install them with pip install 't212-etl[lake]'"
        )
    from warehouse.lake import Lake
    from warehouse.lakepublisher import LakePublisher

    return LakePublisher(Lake(settings.storage_url, name()))
