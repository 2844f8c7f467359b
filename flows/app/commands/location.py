"""Where a command finds the warehouse: the data directory and the lake its arguments name."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from flows.pipeline.settings import SettingsError, load_settings


def data_dir_of(args: argparse.Namespace) -> Path:
    """The data directory of ``--data-dir``, the settings or the default, even without accounts."""
    try:
        return load_settings(data_dir=args.data_dir, config=args.config).data_dir
    except SettingsError:
        return Path(args.data_dir or os.environ.get("T212_DATA_DIR") or "data")


def lake_of(args: argparse.Namespace):
    """The lake of ``--storage-url`` or the settings, or None when everything is local."""
    try:
        settings = load_settings(
            data_dir=args.data_dir, config=args.config, storage_url=args.storage_url
        )
    except SettingsError:
        if args.storage_url or os.environ.get("T212_STORAGE_URL"):
            raise
        return None  # reading the local warehouse needs no accounts
    from flows.pipeline.storage import data_dir_lake

    return data_dir_lake(settings)


def reader_of(args: argparse.Namespace):
    """Opens a reader of the published database, or of the lake when a storage URL is set."""
    from warehouse import connect_readonly

    lake = lake_of(args)
    if lake is None:
        data_dir = data_dir_of(args)
        return lambda: connect_readonly(data_dir)
    from warehouse.reader import connect_lake

    return lambda: connect_lake(lake)
