"""A file:// lake is private: every file 0600 and every folder 0700, in a root that exists."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sandbox import Sandbox
from tests.flows.harness import sandbox_config

ROOT = Path(__file__).parents[2]
RUN = """
import sys
from pathlib import Path
from tests.flows.harness import export, settings_for

class Remote:
    base_url = sys.argv[1]

sys.exit(export(settings_for(Remote, Path(sys.argv[2]), storage_url=sys.argv[3])).exit_code)
"""


def modes(root: Path) -> dict[str, set[str]]:
    """Every path under ``root`` (itself included) by its permission bits, in octal."""
    found: dict[str, set[str]] = {}
    for path in [root, *root.rglob("*")]:
        found.setdefault(oct(stat.S_IMODE(path.lstat().st_mode)), set()).add(str(path))
    return found


def test_a_run_under_umask_022_into_an_existing_root_writes_only_private_files(tmp_path):
    lake = tmp_path / "lake"
    (lake / "tables").mkdir(parents=True)  # a root made by hand, and a folder of an older run
    old = lake / "raw" / "old.json"
    old.parent.mkdir()
    old.write_text("{}")
    for path, mode in ((lake, 0o755), (lake / "tables", 0o755), (old.parent, 0o755)):
        path.chmod(mode)
    old.chmod(0o644)
    with Sandbox(sandbox_config()) as sb:
        done = subprocess.run(
            ["sh", "-c", 'umask 022 && exec "$@"', "sh", sys.executable, "-c", RUN,
             sb.base_url, str(tmp_path / "data"), f"file://{lake}"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = modes(lake)
    dirs = {p for p in [lake, *lake.rglob("*")] if p.is_dir()}
    assert {str(p) for p in dirs} == found.pop("0o700")
    assert set(found) == {"0o600"}
    written = [Path(p).relative_to(lake).parts[0] for p in found["0o600"]]
    assert {"tables", "raw", "duckdb", "leases"} <= set(written)
    assert any(p.endswith(".parquet") for p in found["0o600"])
    assert any("_delta_log" in p for p in found["0o600"])
