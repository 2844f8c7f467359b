"""Without a storage URL nothing changes; with one, no credential is ever printed or kept."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import Sandbox
from tests.flows.harness import db_contents, parquet_contents, sandbox_config
from tests.lake.s3 import ACCESS_KEY, SECRET_KEY
from warehouse.lake import Lake
from warehouse.objectstore import ObjectStore, ObjectStoreError

ROOT = Path(__file__).parents[2]
PLAIN_RUN = """
import sys
from pathlib import Path
from tests.flows.harness import export, settings_for

class Remote:
    base_url = sys.argv[1]

code = export(settings_for(Remote, Path(sys.argv[2]))).exit_code
lake = sorted({m.split(".")[0] for m in sys.modules} & {"deltalake", "obstore"})
print("RESULT", code, lake)
"""


def test_a_run_without_storage_url_loads_no_lake_library_and_writes_parquet(tmp_path):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        done = subprocess.run(
            [sys.executable, "-c", PLAIN_RUN, sb.base_url, str(data_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.stdout.strip().splitlines()[-1] == "RESULT 0 []", done.stderr[-2000:]
    assert parquet_contents(data_dir, "orders") == db_contents(data_dir, "orders") != []


def test_reprs_and_errors_never_show_the_credentials(storage_url, caplog):
    lake = Lake(storage_url)
    shown = [repr(lake), repr(lake.store), str(vars(lake)), str(lake.options)]
    # a bucket that does not exist: a write fails in one line naming the URL
    missing = ObjectStore("s3://no-such-bucket-for-lake-tests/lake")
    with caplog.at_level(logging.DEBUG), pytest.raises(ObjectStoreError) as failed:
        missing.create("leases/1.json", b"{}")
    message = str(failed.value)
    assert "\n" not in message and "s3://no-such-bucket-for-lake-tests/lake" in message
    assert missing.read("leases/1.json") is None  # a read finds nothing, as for a key
    shown += [message, caplog.text]
    for text in shown:
        assert SECRET_KEY not in text and ACCESS_KEY not in text, text
