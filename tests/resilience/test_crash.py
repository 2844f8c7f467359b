"""SIGKILL `t212-etl run` at many moments; the next run must end exactly where an
uninterrupted run ends, and Parquet must equal DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.flows.harness import (
    db_contents,
    export,
    parquet_contents,
    run_cli,
    sandbox_config,
    settings_for,
)
from transforms.catalogue import TABLES
from warehouse import connect_readonly

# one worker runs every test that uses the shared Prefect server, so it starts once
pytestmark = pytest.mark.xdist_group("prefect")

LOAD_METADATA = ("_loaded_at", "_run_id")
# Per run, not per item: these differ between any two runs, interrupted or not.
RUN_TIMES = {"first_seen_at", "last_seen_at", "snapshot_at", "snapshot_date"}

# (crash point, n-th arrival): during extract, between landing and merge, during the
# DuckDB commit, during the Parquet rename, during the publication of the database.
MOMENTS = [
    ("rename.gz", 1),  # the first raw page (the account summary)
    ("rename.gz", 10),  # in the middle of the history walks (three endpoints at once)
    ("rename.gz", 15),  # later in the history walks
    ("rename.json", 12),  # raw zone bookkeeping, between landing and merge
    ("commit", 1),  # the first resource's transaction
    ("commit", 4),  # a history resource's transaction
    ("rename.parquet", 7),
    ("rename.duckdb", 1),
]


def content(data_dir: Path) -> dict[str, list[tuple]]:
    """Every table's rows without what differs between any two runs.

    Snapshot tables are compared by their latest snapshot: an interrupted run may
    have committed a snapshot of its own before it died, which is real data.
    """
    con = connect_readonly(data_dir)
    try:
        out = {}
        for name, table in TABLES.items():
            cols = [c for c in table.column_names if c not in LOAD_METADATA + tuple(RUN_TIMES)]
            select = ", ".join(f'"{c}"' for c in cols)
            where = ""
            if table.kind == "snapshot":
                where = f'WHERE snapshot_at = (SELECT max(snapshot_at) FROM "{name}")'
            out[name] = con.execute(
                f'SELECT {select} FROM "{name}" {where} ORDER BY ALL'
            ).fetchall()
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def sandbox_and_reference(tmp_path_factory):
    """One sandbox for every run, and the warehouse of an uninterrupted run."""
    with Sandbox(sandbox_config()) as sb:
        reference = tmp_path_factory.mktemp("reference") / "data"
        assert export(settings_for(sb, reference)).exit_code == 0
        yield sb, content(reference)


@pytest.mark.parametrize(("point", "nth"), MOMENTS, ids=[f"{p}-{n}" for p, n in MOMENTS])
def test_killed_run_then_normal_run_equals_an_uninterrupted_run(
    prefect_harness, sandbox_and_reference, tmp_path, point, nth
):
    sb, expected = sandbox_and_reference
    data_dir = tmp_path / "data"
    env = {"T212_API_KEY": DEMO_KEY, "T212_API_SECRET": DEMO_SECRET, "T212_BASE_URL": sb.base_url}
    env["T212_ETL_CRASH_AT"] = f"{point}:{nth}"
    code, _, err = run_cli("run", "--data-dir", str(data_dir), env=env)
    assert code == -9, f"the run was not killed at {point}:{nth}: {code} {err[-500:]}"
    assert export(settings_for(sb, data_dir)).exit_code == 0
    assert content(data_dir) == expected
    for name in TABLES:
        assert parquet_contents(data_dir, name) == db_contents(data_dir, name), name
