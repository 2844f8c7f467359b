"""A sandbox warehouse laid out as the docs assume: a working directory with ``data/`` in it."""

from __future__ import annotations

import pytest

from tests.flows.dashboard.sample import build_warehouse


@pytest.fixture(scope="session")
def docs_dir(tmp_path_factory):
    """A directory whose ``data/`` is a two-account sandbox export with its CSV reports."""
    root = tmp_path_factory.mktemp("docs")
    # two runs: the returns need two days of account values
    build_warehouse(root / "data", runs=2, with_reports=True)
    return root
