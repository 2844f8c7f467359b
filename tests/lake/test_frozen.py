"""A store that stops answering: bounded waits, one failed publish, nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox import DEMO_ACCOUNT_ID, Sandbox
from tests.flows.harness import run_cli, sandbox_config
from tests.lake.checks import assert_lake_equals_local, read_bytes
from tests.lake.s3 import FreezingProxy
from tests.lake.test_crash import committed
from warehouse.lake import Lake
from warehouse.lakebatch import TABLES_AT_ONCE
from warehouse.objectstore import ObjectStore
from warehouse.store import DATABASE_FILE, WORK_DIR
from warehouse.storeconfig import TIMEOUT_ENV

ROOT = Path(__file__).parents[2]
RUN = """
import json, sys
from pathlib import Path
from tests.flows.harness import export, settings_for

class Remote:
    base_url = sys.argv[1]

summary = export(settings_for(Remote, Path(sys.argv[2]), storage_url=sys.argv[3]))
print(json.dumps({"code": summary.exit_code, "errors": summary.errors()}))
"""


@pytest.fixture
def proxy(s3_endpoint):
    """A proxy in front of the test's S3 server that the test can freeze."""
    proxy = FreezingProxy(s3_endpoint)
    yield proxy
    proxy.close()


def through(proxy: FreezingProxy) -> dict[str, str]:
    """The environment of a process that reaches the store through ``proxy``, with
    every wait on the store made short through the one setting."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AWS_ENDPOINT_URL": proxy.endpoint,
        TIMEOUT_ENV: "1",
    }


def start_run(base_url: str, data_dir: Path, storage_url: str, env: dict) -> subprocess.Popen:
    """A plain run of the invest account into the lake, in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-c", RUN, base_url, str(data_dir), storage_url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> dict:
    """Wait for a run (killed if it outlives ``timeout``); its summary."""
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and out.strip(), err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def test_a_store_frozen_after_the_lease_fails_the_publish_once_and_the_next_run_publishes(
    storage_url, proxy, tmp_path
):
    data_dir, lease = tmp_path / "data", f"leases/{DEMO_ACCOUNT_ID}.json"
    direct = ObjectStore(storage_url)  # the test's own way in, never frozen
    work_db = data_dir / WORK_DIR / DATABASE_FILE
    with Sandbox(sandbox_config()) as sb:
        run = start_run(sb.base_url, data_dir, storage_url, through(proxy))
        while (read_bytes(direct, lease) is None or not work_db.exists()) and run.poll() is None:
            time.sleep(0.02)
        # the lease is taken and the working database open: from here the store hangs
        proxy.frozen.set()
        summary = finish(run)
        assert summary["code"] == 1
        # one line: the publish failed, for the store, and the changes wait for next time
        assert len(summary["errors"]) == 1, summary["errors"]
        [line] = summary["errors"]
        assert "\n" not in line and storage_url in line and "next run" in line, line
        # a bounded number of waits: the first merge's publish, the run's last try, the
        # lease's release; never one wait per merge. Tables loaded or published at once
        # send their requests together, and those wait as one.
        assert 1 <= proxy.stalls <= 6, (proxy.stalls, proxy.requests_frozen)
        assert proxy.requests_frozen <= 6 * TABLES_AT_ONCE, proxy.requests_frozen
        counts, pending = committed(data_dir)
        assert counts["orders"] and pending > 0  # the local commits stay, to be published

        proxy.frozen.clear()
        again = start_run(sb.base_url, data_dir, storage_url, through(proxy))
        assert finish(again) == {"code": 0, "errors": []}
    assert_lake_equals_local(Lake(storage_url), data_dir)


def test_sql_on_a_frozen_store_fails_in_one_line(storage_url, proxy, tmp_path):
    proxy.frozen.set()
    query = "SELECT count(*) FROM orders"
    code, out, err = run_cli(
        "sql", "--data-dir", str(tmp_path), "--storage-url", storage_url, query,
        env=through(proxy), timeout=120,
    )  # fmt: skip
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and storage_url in err, err
    assert 1 <= proxy.requests_frozen <= 4, proxy.requests_frozen
