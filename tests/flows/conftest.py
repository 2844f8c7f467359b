"""One Prefect test server for the whole session, shared by every flow test."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect server and database; started once, on first use."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
