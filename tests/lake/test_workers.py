"""Several workers on one lake: different accounts at once, the same account never twice."""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox import Sandbox
from tests.flows.harness import (
    ACCOUNT_IDS,
    KEYS,
    export,
    run_cli,
    sandbox_config,
    settings_for,
    start_cli,
)
from tests.lake.checks import held_leases, lake_tables, local_tables, read_bytes
from tests.lake.s3 import SECRET_KEY, aws_env
from warehouse import connect_readonly
from warehouse.lake import Lake, lake_partitions
from warehouse.leases import Leases, process_identity
from warehouse.parquet import PUBLISHED

ACCOUNT = """
[[accounts]]
name = "{name}"
env = "demo"
base_url = "{url}"
key_env = "{key_env}"
secret_env = "{secret_env}"
"""


@pytest.fixture
def two_accounts(tmp_path: Path, s3_endpoint, storage_url):
    """A two-account sandbox, a config naming both, and the environment of a CLI run."""
    with Sandbox(sandbox_config(two_accounts=True)) as sb:
        config = tmp_path / "t212-etl.toml"
        env = aws_env(s3_endpoint)
        text = ""
        for name, (key_env, secret_env, key, secret) in KEYS.items():
            text += ACCOUNT.format(
                name=name, url=sb.base_url, key_env=key_env, secret_env=secret_env
            )
            env.update({key_env: key, secret_env: secret})
        config.write_text(text)
        yield sb, config, env


def run_args(config: Path, data_dir: Path, storage_url: str, account: str) -> list[str]:
    """The arguments of `t212-etl run` for one account of the config into the lake."""
    return [
        "run",
        "--config",
        str(config),
        "--data-dir",
        str(data_dir),
        "--account",
        account,
        "--storage-url",
        storage_url,
    ]


def own_rows(rows: list[tuple], name: str, account_id: int) -> list[tuple]:
    """The rows of one account."""
    at = PUBLISHED[name].column_names.index("account_id")
    return [row for row in rows if row[at] == account_id]


def test_two_workers_export_different_accounts_into_one_lake_at_once(
    two_accounts, storage_url, tmp_path
):
    _, config, env = two_accounts
    dirs = {name: tmp_path / name for name in ("invest", "isa")}
    procs = {
        name: start_cli(*run_args(config, data_dir, storage_url, name), env=env, cwd=tmp_path)
        for name, data_dir in dirs.items()
    }
    outputs = {name: proc.communicate(timeout=180) for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, outputs[name][1][-2000:]
        assert SECRET_KEY not in "".join(outputs[name])

    lake = Lake(storage_url)
    remote = lake_tables(lake)
    runs, references = set(), collections.defaultdict(list)
    for name, data_dir in dirs.items():
        local, account_id = local_tables(data_dir), ACCOUNT_IDS[name]
        for table in PUBLISHED.values():
            if lake_partitions(table):
                mine = own_rows(remote[table.name], table.name, account_id)
                assert mine == local[table.name], (name, table.name)
            elif table.kind != "log":
                references[table.name].append(local[table.name])
        con = connect_readonly(data_dir)
        try:
            assert [m for t in PUBLISHED.values() for m in lake.problems(con, t)] == []
            runs |= {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
        finally:
            con.close()
    # a reference list is replaced whole: the last worker's copy, never a mix
    for name, copies in references.items():
        assert remote[name] in copies, name
    # no commit lost: the run logs of both workers are in the lake
    assert len(runs) == 2
    assert {r[0] for r in remote["runs"]} == runs
    at = PUBLISHED["run_resources"].column_names.index("run_id")
    assert {r[at] for r in remote["run_resources"]} == runs
    assert len(remote["instruments"]) == 300
    keys = set(lake.store.list(""))
    assert {"duckdb/invest.duckdb", "duckdb/isa.duckdb"} <= keys
    assert held_leases(lake) == []


def dead_pid() -> int:
    """The id of a process that has exited."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_an_account_another_process_exports_is_refused_then_taken_over(
    two_accounts, storage_url, tmp_path
):
    sb, config, env = two_accounts
    lake, account_id = Lake(storage_url), ACCOUNT_IDS["invest"]
    data_dir = tmp_path / "data"
    with Leases(lake.store, {account_id: "invest"}):  # a live process on this host
        code, _, err = run_cli(*run_args(config, data_dir, storage_url, "invest"), env=env)
        assert code == 2, err[-2000:]
        line = err.strip()
        assert "\n" not in line and "invest" in line and "another process" in line
        assert list(lake.store.list("")) == [f"leases/{account_id}.json"]

    # a lease a killed process left on this host (and PID namespace) is taken over at once
    now = datetime.now(UTC).isoformat()
    holder = {"host": socket.gethostname(), "pid": dead_pid(), "process": process_identity()}
    holder |= {"started_at": now, "term_seconds": 1800}
    lake.store.put_bytes(f"leases/{account_id}.json", json.dumps(holder).encode())
    settings = settings_for(sb, data_dir, storage_url=storage_url)
    assert export(settings, account_names=["invest"]).exit_code == 0
    assert lake_tables(lake)["orders"] == local_tables(data_dir)["orders"] != []
    released = json.loads(read_bytes(lake.store, f"leases/{account_id}.json"))
    assert released["released_at"] and released["pid"] == os.getpid()
