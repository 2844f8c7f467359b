"""`demo` and `run` as a new user meets them: they work, talk to Trading 212 (here the
sandbox on loopback) and to nothing else, and print no banner."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.flows.harness import sandbox_config
from warehouse import connect_readonly

# Installed in every Python process the command starts (Prefect's temporary server
# included): each outgoing connection and name lookup is appended to a log.
AUDIT = r"""
import json, os, sys

def _write(entry):
    fd = os.open(os.environ["SOCKET_AUDIT_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps({"pid": os.getpid(), **entry}) + "\n").encode())
    finally:
        os.close(fd)

def _record(event, args):
    if event == "socket.connect":
        address = args[1]
        _write({"connect": address if isinstance(address, str) else list(address)[:2]})
    elif event == "socket.getaddrinfo":
        host = args[0]
        _write({"lookup": host.decode() if isinstance(host, bytes) else host})

with open("/proc/self/cmdline", "rb") as f:
    _write({"started": f.read().replace(b"\0", b" ").decode(errors="replace")})
sys.addaudithook(_record)
"""
LOOPBACK = ("127.0.0.1", "::1", "localhost", None, "")
CI_MARKERS = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "JENKINS_URL", "TF_BUILD")


# `demo` (in-process: no Prefect API is configured), then `run --prefect`, as one process:
# Prefect's temporary server starts for the run (a first start migrates its database:
# about 15 s), and its first-run banner would show here.
COMMANDS = """
import sys
from flows.app.cli import main
sys.exit(main(["demo"]) or main(["run", "--prefect"]))
"""


def _run_in_a_terminal(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run ``COMMANDS`` with a pseudo-terminal as stdout and stderr."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", COMMANDS],
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        env=env,
        cwd=cwd,
    )
    os.close(child)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal closes when the last writer exits
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    code = proc.wait(timeout=240)
    reader.join(timeout=10)
    os.close(main)
    return code, b"".join(chunks).decode(errors="replace")


def _seed_prefect_database(home: Path) -> None:
    """Copy the test server's database (migrated already) to where a new home keeps one.

    Migrating a new database takes Prefect's temporary server about 15 s and sends
    nothing anywhere; every file that tells Prefect it ran before stays absent.
    """
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    source = sqlite3.connect(PREFECT_API_DATABASE_CONNECTION_URL.value().split(":///", 1)[1])
    home.mkdir()
    target = sqlite3.connect(home / "prefect.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _first_time_user(tmp_path: Path, hook_dir: Path, log: Path) -> dict[str, str]:
    """A machine where Prefect never ran, outside CI, nothing opted out."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "T212_", "DO_NOT_TRACK")) and k not in CI_MARKERS
    }
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PYTHONPATH=os.pathsep.join([str(hook_dir), str(Path(__file__).parents[2])]),
        SOCKET_AUDIT_LOG=str(log),
        HOME=str(tmp_path / "home"),
    )
    return env


def _outside_loopback(log: Path) -> list[dict]:
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    return [
        e
        for e in entries
        if "started" not in e
        if not isinstance(e.get("connect"), str)  # a Unix socket stays on this machine
        and (e.get("lookup") if "lookup" in e else e["connect"][0]) not in LOOPBACK
        and not str(e.get("lookup") or e.get("connect", [""])[0]).startswith("127.")
    ]


def _assert_the_demo_queries_answer(output: str, demo_data: Path) -> None:
    """The demo loaded its warehouse, and each query it suggests returns rows."""
    assert (demo_data / "warehouse.duckdb").is_file()
    assert "loaded:" in output and "dividends" in output
    lines = [
        line.strip() for line in output.splitlines() if line.strip().startswith("t212-etl sql")
    ]
    assert len(lines) == 3
    for line in lines:
        query = line.split('"', 1)[1].rsplit('"', 1)[0]
        con = connect_readonly(demo_data)
        try:
            assert con.execute(query).fetchall(), query
        finally:
            con.close()


@pytest.mark.xdist_group("prefect")  # beside the test server whose database it copies
def test_demo_and_run_talk_to_nothing_but_the_api_and_print_no_banner(prefect_server, tmp_path):
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(AUDIT)
    log = tmp_path / "sockets.log"
    (tmp_path / "home").mkdir()
    env = _first_time_user(tmp_path, hook_dir, log)
    _seed_prefect_database(Path(env["PREFECT_HOME"]))

    with Sandbox(sandbox_config()) as sb:
        run_env = {
            **env,
            "T212_BASE_URL": sb.base_url,
            "T212_ENV": "demo",
            "T212_API_KEY": DEMO_KEY,
            "T212_API_SECRET": DEMO_SECRET,
            "T212_DATA_DIR": str(tmp_path / "data"),
        }
        code, output = _run_in_a_terminal(run_env, tmp_path)
    assert code == 0, output[-2000:]
    assert "success" in output and (tmp_path / "data" / "warehouse.duckdb").is_file()
    _assert_the_demo_queries_answer(output, tmp_path / "demo-data")

    assert "anonymous usage" not in output and "telemetry" not in output.lower()
    assert _outside_loopback(log) == []
    started = [json.loads(line).get("started", "") for line in log.read_text().splitlines()]
    assert sum("from flows.app.cli import main" in command for command in started) == 1
    assert sum("uvicorn" in command for command in started) >= 1, (
        "the temporary Prefect server must have been audited too"
    )
