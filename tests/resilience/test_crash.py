"""SIGKILL `t212-etl run`, `rebuild` and `import-csv` at many moments; the next command
must end exactly where an uninterrupted one ends, and Parquet must equal DuckDB."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from flows.pipeline.imports import import_reports
from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.flows.downloads import download_report as fetch_report
from tests.flows.harness import (
    assert_parquet_equals_duckdb,
    export,
    killed_export,
    run_cli,
    sandbox_config,
    settings_for,
)
from transforms.catalogue import TABLES
from warehouse import connect_readonly

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
# the same moments of `t212-etl run` itself: the first raw page, the database publication
COMMAND_MOMENTS = [("rename.gz", 1), ("rename.duckdb", 1)]
# (command, crash point, n-th arrival), killed in turn on one data directory: an import
# with its files landed but not merged (its publishing is a run's); then a rebuild
# replaying, with its new database built, and swapped in with nothing republished yet.
LATER_MOMENTS = [
    ("import-csv", "import.landed", 1),
    ("rebuild", "commit", 3),
    ("rebuild", "rebuild.built", 1),
    ("rebuild", "rebuild.swapped", 1),
]


def content(data_dir: Path) -> dict[str, list[tuple]]:
    """Every table's rows without what differs between any two runs.

    Snapshot tables are compared by their latest snapshot: an interrupted run may
    have committed a snapshot of its own before it died, which is real data. So
    ``returns``, measured between every valuation, an interrupted run's included, is
    left out.
    """
    con = connect_readonly(data_dir)
    try:
        out = {}
        for name, table in TABLES.items():
            if name == "returns":
                continue
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
        yield sb, content(reference), reference


def snapshots(data_dir: Path) -> dict[str, list[tuple]]:
    """Every row of every snapshot table with its snapshot time, by snapshot time."""
    con = connect_readonly(data_dir)
    try:
        out = {}
        for name, table in TABLES.items():
            if table.kind == "snapshot":
                cols = [f'"{c}"' for c in table.column_names if c not in LOAD_METADATA]
                rows = con.execute(f'SELECT {", ".join(cols)} FROM "{name}" ORDER BY ALL')
                out[name] = rows.fetchall()
        return out
    finally:
        con.close()


def leftovers(data_dir: Path) -> list[str]:
    """Temporary files of any writer: renamed-into-place, DuckDB's spill and a rebuild's."""
    return sorted(
        str(p.relative_to(data_dir))
        for p in data_dir.rglob("*")
        if p.name.endswith(".tmp") or p.name.startswith(("duckdb_temp", "rebuilding"))
    )


def assert_consistent(data_dir: Path, expected: dict[str, list[tuple]]) -> None:
    """The tables equal ``expected``, Parquet equals DuckDB, and no temporary file is left."""
    assert content(data_dir) == expected
    assert_parquet_equals_duckdb(data_dir)
    assert leftovers(data_dir) == []


def download_year(sb: Sandbox, folder: Path) -> Path:
    """A CSV report of a year, downloaded the way a user would."""
    with httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client:
        period = ("2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z")
        path = fetch_report(client, *period, folder / "report.csv")
    return path


@pytest.mark.parametrize(("point", "nth"), MOMENTS, ids=[f"{p}-{n}" for p, n in MOMENTS])
def test_killed_run_then_normal_run_equals_an_uninterrupted_run(
    sandbox_and_reference, tmp_path, point, nth
):
    """The run killed is the pipeline without Prefect (its tasks only call it)."""
    sb, expected, _ = sandbox_and_reference
    data_dir = tmp_path / "data"
    code, err = killed_export(sb.base_url, data_dir, f"{point}:{nth}")
    assert code == -9, f"the run was not killed at {point}:{nth}: {code} {err[-500:]}"
    assert export(settings_for(sb, data_dir)).exit_code == 0
    assert_consistent(data_dir, expected)


@pytest.mark.parametrize(("point", "nth"), COMMAND_MOMENTS)
def test_killed_command_then_normal_run_equals_an_uninterrupted_run(
    sandbox_and_reference, tmp_path, point, nth
):
    """`t212-etl run` itself, killed in its first and last steps."""
    sb, expected, _ = sandbox_and_reference
    data_dir = tmp_path / "data"
    env = {"T212_API_KEY": DEMO_KEY, "T212_API_SECRET": DEMO_SECRET, "T212_BASE_URL": sb.base_url}
    env["T212_ETL_CRASH_AT"] = f"{point}:{nth}"
    code, _, err = run_cli("run", "--data-dir", str(data_dir), env=env)
    assert code == -9, f"the run was not killed at {point}:{nth}: {code} {err[-500:]}"
    assert export(settings_for(sb, data_dir)).exit_code == 0
    assert_consistent(data_dir, expected)


def test_killed_rebuild_or_import_then_next_command_equals_an_uninterrupted_one(
    sandbox_and_reference, tmp_path
):
    """After a killed rebuild the next run, after a killed import the same import again."""
    sb, _, reference = sandbox_and_reference
    report = download_year(sb, tmp_path)
    imported = Path(shutil.copytree(reference, tmp_path / "imported"))
    import_reports(imported, [report])
    expected_imported = content(imported)
    assert len(expected_imported["activity"]) > 100
    data_dir = Path(shutil.copytree(reference, tmp_path / "data"))
    for command, point, nth in LATER_MOMENTS:
        files = [str(report)] if command == "import-csv" else []
        env = {"T212_ETL_CRASH_AT": f"{point}:{nth}"}
        kept = snapshots(data_dir)
        code, _, err = run_cli(command, "--data-dir", str(data_dir), *files, env=env)
        assert code == -9, f"{command} was not killed at {point}:{nth}: {code} {err[-500:]}"
        if command == "rebuild":
            assert export(settings_for(sb, data_dir)).exit_code == 0, point
            # the run added a snapshot of its own; every earlier one is still there
            for name, rows in snapshots(data_dir).items():
                assert set(kept[name]) < set(rows), (point, name)
        else:
            import_reports(data_dir, [report])
            assert snapshots(data_dir) == kept
        assert_consistent(data_dir, expected_imported)
