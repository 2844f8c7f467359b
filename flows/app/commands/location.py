"""Where a command finds the warehouse: the data directory and where it publishes."""

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


def publisher_of(args: argparse.Namespace):
    """Where the data directory publishes: local Parquet, or the lake of a storage URL."""
    from flows.pipeline.storage import command_publisher

    return command_publisher(args.data_dir, args.config, args.storage_url)


def reader_of(args: argparse.Namespace):
    """Opens a reader of the published database, or of the lake when a storage URL is set."""
    return publisher_of(args).connect_reader
