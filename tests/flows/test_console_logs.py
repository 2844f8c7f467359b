"""Prefect's own records stay off the console, whatever logger name they carry."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from flows.app.cli import _OwnRecordsOnly


def _record(name: str, pathname: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, pathname, 1, "Still processing items", (), None)


def test_a_prefect_service_logging_under_its_class_name_is_kept_off_the_console():
    prefect_dir = importlib.util.find_spec("prefect").submodule_search_locations[0]
    services = str(Path(prefect_dir) / "_internal" / "concurrency" / "services.py")
    keep = _OwnRecordsOnly()
    assert not keep.filter(_record("EventsWorker", services))
    assert not keep.filter(_record("prefect.flow_runs", __file__))
    assert keep.filter(_record("t212_etl", __file__))
