"""Helpers for end-to-end tests: settings for a sandbox, runs, and warehouse contents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from extractors.client import RetryPolicy
from flows.pipeline.run import RunOptions, RunSummary, run_export
from flows.pipeline.settings import AccountConfig, Settings
from sandbox import (
    DEMO_ACCOUNT_ID,
    DEMO_ISA_ACCOUNT_ID,
    DEMO_ISA_KEY,
    DEMO_ISA_SECRET,
    DEMO_KEY,
    DEMO_SECRET,
    AccountSpec,
    Sandbox,
    SandboxConfig,
    SandboxSize,
)
from transforms.catalogue import TABLES
from warehouse import connect_readonly

SMALL = SandboxSize(instruments=300, positions=25, dividends=180, orders=260, transactions=210)
SMALL_ISA = SandboxSize(instruments=300, positions=12, dividends=90, orders=120, transactions=80)
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.05, max_total_wait=5)
KEYS = {
    "invest": ("T212_TEST_INVEST_KEY", "T212_TEST_INVEST_SECRET", DEMO_KEY, DEMO_SECRET),
    "isa": ("T212_TEST_ISA_KEY", "T212_TEST_ISA_SECRET", DEMO_ISA_KEY, DEMO_ISA_SECRET),
}
ACCOUNT_IDS = {"invest": DEMO_ACCOUNT_ID, "isa": DEMO_ISA_ACCOUNT_ID}


def sandbox_config(two_accounts: bool = False, **overrides: Any) -> SandboxConfig:
    """A small, fast sandbox: one Invest account (and an ISA when asked)."""
    accounts = [AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, "invest", size=SMALL)]
    if two_accounts:
        accounts.append(
            AccountSpec(
                DEMO_ISA_ACCOUNT_ID, "GBP", DEMO_ISA_KEY, DEMO_ISA_SECRET, "isa", size=SMALL_ISA
            )
        )
    return SandboxConfig(**{"accounts": tuple(accounts), "time_scale": 0.0005, **overrides})


def settings_for(sb: Sandbox, data_dir: Path, names=("invest",), **kw: Any) -> Settings:
    """Settings with the named sandbox accounts, keys in a private environment mapping."""
    environ, accounts = {}, []
    for name in names:
        key_env, secret_env, key, secret = KEYS[name]
        environ.update({key_env: key, secret_env: secret})
        accounts.append(
            AccountConfig(
                name, "demo", sb.base_url, key_env=key_env, secret_env=secret_env,
                wrapper="isa" if name == "isa" else "invest",
            )
        )  # fmt: skip
    return Settings(data_dir=data_dir, accounts=tuple(accounts), environ=environ, **kw)


def export(settings: Settings, **kw: Any) -> RunSummary:
    """A plain (Prefect-free) run with fast retries."""
    runners = {k: kw.pop(k) for k in ("runner", "resource_runner") if k in kw}
    return run_export(settings, RunOptions(client_options={"retry": FAST_RETRY}, **kw), **runners)


def db_contents(data_dir: Path, name: str, where: str = "") -> list[tuple]:
    """Every row of a table in the published DuckDB file, sorted, load metadata included."""
    con = connect_readonly(data_dir)
    try:
        return _rows(con, name, where)
    finally:
        con.close()


def _rows(con: duckdb.DuckDBPyConnection, name: str, where: str = "") -> list[tuple]:
    return con.execute(f'SELECT * FROM "{name}" {where} ORDER BY ALL').fetchall()


def tables_contents(data_dir: Path) -> dict[str, list[tuple]]:
    """:func:`db_contents` of every table, through one connection."""
    con = connect_readonly(data_dir)
    try:
        return {name: _rows(con, name) for name in TABLES}
    finally:
        con.close()


def assert_parquet_equals_duckdb(data_dir: Path) -> None:
    """Every table's Parquet dataset holds exactly the rows of the published DuckDB file
    (each read through one connection: opening a DuckDB costs 15-20 ms of CPU)."""
    con, datasets = connect_readonly(data_dir), _parquet_reader()
    try:
        for name in TABLES:
            assert parquet_contents(data_dir, name, datasets) == _rows(con, name), name
    finally:
        con.close()
        datasets.close()


def _parquet_reader() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def parquet_contents(
    data_dir: Path, name: str, con: duckdb.DuckDBPyConnection | None = None
) -> list[tuple]:
    """Every row of a table's Parquet dataset in catalogue column order, sorted; read by
    ``con`` (an in-memory DuckDB in UTC) or by a new one."""
    columns = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
    root = data_dir / "parquet" / name
    if not any(root.rglob("*.parquet")):
        return []  # a partitioned table with no rows has no partition files
    pattern = str(root / "**" / "*.parquet")
    reader = _parquet_reader() if con is None else con
    try:
        return reader.execute(
            f"SELECT {columns} FROM read_parquet('{pattern}', hive_partitioning = true, "
            "union_by_name = true) ORDER BY ALL"
        ).fetchall()
    finally:
        if con is None:
            reader.close()


def query(data_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Every row a query gives on the published warehouse."""
    con = connect_readonly(data_dir)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def scalar(data_dir: Path, sql: str, params: list | None = None) -> Any:
    """One value from the published warehouse."""
    return query(data_dir, sql, params)[0][0]


def exported(data_dir: Path, names: tuple[str, ...] = ("invest",)) -> Path:
    """``data_dir`` holding the named sandbox accounts, exported in-process (no Prefect)."""
    with Sandbox(sandbox_config(two_accounts="isa" in names)) as sb:
        assert export(settings_for(sb, data_dir, names=names)).exit_code == 0
    return data_dir


def cli_env(env: dict | None = None) -> dict[str, str]:
    """The environment of a `t212-etl` subprocess: no T212_* variable of this process, then
    ``env``. A test using ``prefect_harness`` has ``PREFECT_API_URL`` set: its runs are flow
    runs on the session's Prefect server; other tests' runs are in-process."""
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("T212_")}
    full_env.update(env or {})
    return full_env


def start_cli(*args: str, env: dict | None = None, cwd: Path | None = None):
    """Start `t212-etl ARGS` in a subprocess (see :func:`cli_env`); returns the Popen."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "flows", *args],
        env=cli_env(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120):
    """Run `t212-etl ARGS` in a subprocess; returns (exit code, stdout, stderr).

    With ``prefect_harness`` the subprocess's `run` is a flow run on the session's server.
    """
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "flows", *args],
        env=cli_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout, done.stderr


# A plain (Prefect-free) run of the sandbox accounts argv[3] (comma-separated) at argv[1]
# into argv[2], publishing to the storage URL argv[4] when not empty, in a process of its
# own so that a crash point can kill it.
_PLAIN_RUN = """
import sys
from pathlib import Path
from tests.flows.harness import export, settings_for

class Remote:
    base_url = sys.argv[1]

names = tuple(sys.argv[3].split(","))
settings = settings_for(Remote, Path(sys.argv[2]), names=names, storage_url=sys.argv[4] or None)
sys.exit(export(settings).exit_code)
"""


def killed_export(
    base_url: str,
    data_dir: Path,
    crash_at: str,
    *,
    storage_url: str | None = None,
    names: tuple[str, ...] = ("invest",),
) -> tuple[int, str]:
    """Run a plain export in a subprocess told to die at ``crash_at``; (exit code, stderr)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "T212_ETL_CRASH_AT": crash_at}
    argv = [base_url, str(data_dir), ",".join(names), storage_url or ""]
    done = subprocess.run(
        [sys.executable, "-c", _PLAIN_RUN, *argv],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stderr
