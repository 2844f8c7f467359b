"""The sandbox warehouse that the report tests read, built once per session."""

from __future__ import annotations

import pytest

from tests.flows.dashboard.sample import build_warehouse


@pytest.fixture(scope="session")
def report_warehouse(tmp_path_factory):
    """(data directory, time of the last run) of a two-account sandbox export."""
    data_dir = tmp_path_factory.mktemp("report-wh")
    return data_dir, build_warehouse(data_dir)
