"""Suite-wide guard: no file written by any test may contain a credential the tests use."""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import inspect
import os
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

import flows  # noqa: F401  (sets Prefect's environment: no telemetry from test servers)

# The suite starts many Python processes (xdist workers, `t212-etl` subprocesses); with
# PYTHONDONTWRITEBYTECODE set each of them compiles this project from source again
# (collection alone: 7.7 s of CPU a worker against 4.2 s with bytecode cached).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# Hypothesis' default deadline (200 ms an example) is a wall-clock threshold that a busy
# machine breaks (an example of test_trackers took 341 ms once and 0.27 ms on its rerun):
# no example of the suite is timed.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


def known_credentials() -> list[bytes]:
    """Every key and secret the test suite hands to the pipeline, in every encoding."""
    from sandbox import DEMO_ISA_KEY, DEMO_ISA_SECRET, DEMO_KEY, DEMO_SECRET
    from tests.flows.test_secrets import SENTINEL_KEY, SENTINEL_SECRET, WRONG_SECRET
    from tests.lake.s3 import SECRET_KEY as LAKE_SECRET

    pairs = [(DEMO_KEY, DEMO_SECRET), (DEMO_ISA_KEY, DEMO_ISA_SECRET)]
    pairs += [(SENTINEL_KEY, SENTINEL_SECRET), (SENTINEL_KEY, WRONG_SECRET)]
    tokens = {t for pair in pairs for t in pair}
    tokens |= {base64.b64encode(f"{k}:{s}".encode()).decode() for k, s in pairs}
    tokens.add(LAKE_SECRET)  # the object store's: S3 signs with it, never sends it
    return sorted(t.encode() for t in tokens)


def leaks(root: Path, secrets: list[bytes]) -> Iterator[str]:
    """Files below ``root`` holding any of ``secrets`` (gzip files decompressed)."""
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if path.suffix == ".gz":
            try:  # what a cut-short file holds is scanned too; a garbled one as it is
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error):
                with contextlib.suppress(zlib.error):
                    data += zlib.decompressobj(wbits=31).decompress(data)
        if any(secret in data for secret in secrets):
            yield str(path)


@pytest.fixture(scope="session", autouse=True)
def no_credential_in_any_file_the_suite_writes(tmp_path_factory):
    """After the whole session, scan every temporary file the tests created."""
    yield
    found = list(leaks(tmp_path_factory.getbasetemp(), known_credentials()))
    assert not found, f"credentials written to: {found[:5]}"


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server and database for the whole session, started on first use;
    its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield PREFECT_API_URL.value()


@pytest.fixture
def prefect_harness(prefect_server, monkeypatch):
    """The session's Prefect server as the configured API of this test (``PREFECT_API_URL``),
    so `run` and `demo` here are flow runs on it; other tests run without Prefect."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    return prefect_server


# What makes a test slow (the `slow` marker): the fixtures that start a Prefect or S3 server,
# and calls in the test's own code that start a process (a `t212-etl` export, a browser,
# Node, the DuckDB CLI). Tests added later are marked by what they use.
SLOW_FIXTURES = frozenset({"prefect_server", "prefect_harness", "s3_endpoint", "storage_url"})
SLOW_CALLS = re.compile(
    r"\b(run_cli|start_cli|killed_export|_run_in_a_terminal|Browser|"
    r"subprocess\.(run|Popen|check_output|check_call|call))\("
)


# Session fixtures that each worker keeps for itself (a server per process), and the
# group to start first: the Evidence build is the suite's longest item.
PER_WORKER = frozenset(
    {"prefect_server", "s3_endpoint", "no_credential_in_any_file_the_suite_writes"}
)
LONGEST_GROUP = "evidence"


@functools.cache
def _starts_a_process(function) -> bool:
    try:
        return bool(SLOW_CALLS.search(inspect.getsource(function)))
    except (OSError, TypeError):
        return False


def _shared_fixtures(item) -> set[str]:
    """Names for the module- and session-scoped fixtures of the suite that ``item`` uses
    (a module's own fixture is named by the module: each module builds its own)."""
    names = set()
    info = getattr(item, "_fixtureinfo", None)
    for name, defs in info.name2fixturedefs.items() if info else ():
        fixture = defs[-1]
        if name in PER_WORKER or fixture.scope not in ("module", "session"):
            continue
        if fixture.baseid.startswith("tests"):
            names.add(item.module.__name__ if fixture.scope == "module" else f"{name}@session")
    return names


def _group_by_shared_fixture(items) -> None:
    """Put the tests that share a module- or session-scoped fixture in one xdist group.

    With ``--dist loadgroup`` a test without a group is a unit of its own, so a module's
    shared export was built again on every worker that drew one of its tests.
    """
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    keys = {}
    for item in items:
        own = {m.args[0] if m.args else m.kwargs.get("name", "default")
               for m in item.iter_markers("xdist_group")}  # fmt: skip
        # a group named in the test comes first, so that it names the whole union
        keys[item] = [*sorted(own), *sorted(_shared_fixtures(item) - own)]
        for key in keys[item][1:]:
            parent[root(key)] = root(keys[item][0])
    for item, item_keys in keys.items():
        if item_keys and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(root(item_keys[0])))


def _long_first(items) -> None:
    """Order the modules so that those with slow tests start first (xdist hands out work
    in collection order with ``--no-loadscope-reorder``); a module keeps its own order."""

    def group(item) -> str | None:
        marker = item.get_closest_marker("xdist_group")
        return marker.args[0] if marker and marker.args else None

    first = {i.module.__name__ for i in items if group(i) == LONGEST_GROUP}
    slow = {i.module.__name__ for i in items if i.get_closest_marker("slow")}
    items.sort(key=lambda i: (i.module.__name__ not in first, i.module.__name__ not in slow))


@pytest.hookimpl(tryfirst=True)  # before xdist names the groups in the test ids
def pytest_collection_modifyitems(config, items):
    """Mark as ``slow`` every test that starts a server or a process (see SLOW_FIXTURES),
    group the tests that share a fixture, and start the long ones first."""
    for item in items:
        function = getattr(item, "function", None)
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or (
            function is not None and _starts_a_process(function)
        ):
            item.add_marker(pytest.mark.slow)
    _group_by_shared_fixture(items)
    _long_first(items)
