"""The DuckDB 1.x command line (the ``duckdb-cli`` package of the dev extra), run as a reader."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def duckdb_cli() -> str:
    """The ``duckdb`` binary beside this Python, or on PATH; it must be a 1.x release."""
    found = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
    if not found:
        raise RuntimeError("the DuckDB CLI is missing: pip install -e '.[dev]' installs it")
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    if not version.startswith("v1."):
        raise RuntimeError(f"{found} is DuckDB {version.split()[0]}, not the 1.x reader wanted")
    return found


def run_cli(args: list[str], script: str, cwd: Path) -> str:
    """Run the 1.x CLI with ``args`` on ``script`` (read from stdin); its output, or raise."""
    done = subprocess.run(
        [duckdb_cli(), *args],
        input="SET TimeZone = 'UTC';\n" + script,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    if done.returncode or "Error" in done.stderr:
        raise AssertionError(f"DuckDB 1.x failed on {script!r}: {done.stderr.strip()}")
    return done.stdout
