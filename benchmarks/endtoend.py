"""End to end: `t212-etl demo` and a nightly `t212-etl run`, split into start-up, network, local."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.remote import RemoteSandbox
from benchmarks.results import Row, Section, median
from flows.app.commands.demo import DEMO_TIME_SCALE
from flows.pipeline.run import RunOptions, run_export
from flows.pipeline.settings import AccountConfig, Settings
from sandbox import DEMO_ISA_KEY, DEMO_ISA_SECRET, DEMO_KEY, DEMO_SECRET, SandboxConfig

CLI = str(Path(sys.executable).with_name("t212-etl"))
ENV = {"B_INVEST_KEY": DEMO_KEY, "B_INVEST_SECRET": DEMO_SECRET,
       "B_ISA_KEY": DEMO_ISA_KEY, "B_ISA_SECRET": DEMO_ISA_SECRET}  # fmt: skip


class Busy:
    """Intervals during which the network was in use: requests in flight, rate-limit waits."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def add(self, start: float, end: float) -> None:
        """One interval."""
        with self._lock:
            self.spans.append((start, end))

    def wait(self, _label: str, seconds: float) -> None:
        """A rate-limit wait starting now (the client's ``on_wait``)."""
        now = time.monotonic()
        self.add(now, now + seconds)

    def seconds(self) -> float:
        """Length of the union of every interval."""
        total, end = 0.0, float("-inf")
        for a, b in sorted(self.spans):
            if b > end:
                total += b - max(a, end)
                end = b
        return total


class TimedTransport(httpx.HTTPTransport):
    """An HTTP transport that records how long each request is in flight."""

    def __init__(self, busy: Busy) -> None:
        super().__init__()
        self.busy = busy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send, read the whole body, record the interval."""
        start = time.monotonic()
        response = super().handle_request(request)
        response.read()
        self.busy.add(start, time.monotonic())
        return response


def settings_for(base_url: str, data_dir: Path) -> Settings:
    """Both sandbox accounts, as the demo configures them."""
    accounts = tuple(
        AccountConfig(name, "demo", base_url, key_env=f"B_{name.upper()}_KEY",
                      secret_env=f"B_{name.upper()}_SECRET")
        for name in ("invest", "isa")
    )  # fmt: skip
    return Settings(data_dir=data_dir, accounts=accounts, environ=ENV)


def plain_run(settings: Settings) -> tuple[float, float]:
    """(wall seconds, network-busy seconds) of a run as plain functions."""
    busy = Busy()
    started = time.monotonic()
    options = {"transport": TimedTransport(busy), "on_wait": busy.wait}
    summary = run_export(settings, RunOptions(client_options=options))
    assert summary.exit_code == 0, summary.errors()
    return time.monotonic() - started, busy.seconds()


def cli(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of one command, with no Prefect API configured (as on a new machine)."""
    started = time.monotonic()
    full_env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run([CLI, *args], cwd=cwd, env={**full_env, **env}, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return time.monotonic() - started


def measure(tmp: Path) -> dict[str, tuple[float, ...]]:
    """(command wall, plain wall, network) for the demo and for a nightly run, and the
    wall time of `status` on the nightly run's warehouse."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    config = SandboxConfig(time_scale=DEMO_TIME_SCALE, now=today)
    demo_cli = cli(["demo", "--data-dir", str(tmp / "demo")], {}, tmp)
    with RemoteSandbox(config) as sb:
        demo_plain, demo_net = plain_run(settings_for(sb.base_url, tmp / "plain"))
    with RemoteSandbox(config) as sb:
        plain = settings_for(sb.base_url, tmp / "nightly")
        plain_run(plain)
        shutil.copytree(tmp / "nightly", tmp / "nightly-cli")
        env = {"T212_API_KEY": DEMO_KEY, "T212_API_SECRET": DEMO_SECRET, "T212_ENV": "demo",
               "T212_BASE_URL": sb.base_url}  # fmt: skip
        nightly_cli = cli(["run", "--data-dir", str(tmp / "nightly-cli")], env, tmp)
        status = cli(["status", "--data-dir", str(tmp / "nightly-cli")], env, tmp)
        single = Settings(data_dir=tmp / "nightly", accounts=plain.accounts[:1], environ=ENV)
        nightly_plain, nightly_net = plain_run(single)
    return {"demo": (demo_cli, demo_plain, demo_net),
            "nightly run": (nightly_cli, nightly_plain, nightly_net),
            "status": (status,)}  # fmt: skip


def run(*, smoke: bool, runs: int) -> Section:
    """Wall time of both commands, split into start-up, network and local work."""
    figures = []
    for _ in range(1 if smoke else runs):
        with tempfile.TemporaryDirectory(prefix="t212-e2e-") as tmp:
            figures.append(measure(Path(tmp)))
    section = Section(
        "End to end: demo and nightly run",
        "`t212-etl demo` on a fresh directory (both sandbox accounts, time scaled by 0.01) "
        "and a nightly `t212-etl run` of the default sandbox account after its backfill, "
        "with no Prefect API configured (the pipeline in-process), then `t212-etl status` "
        "on the same warehouse. "
        "Network is the time any request was in flight or any rate-limit wait ran (from the "
        "same export as plain functions, in-process); local is the rest of that export; "
        "start-up is the command's wall time less the plain export: interpreter and imports.",
    )
    status = median([f["status"][0] for f in figures])
    for name in ("demo", "nightly run"):
        command, plain, net = (median([f[name][i] for f in figures]) for i in range(3))
        section.rows += [
            Row(f"{name}: command wall time", command, "s"),
            Row(f"{name}: start-up (imports)", command - plain, "s", "command wall", command),
            Row(f"{name}: network incl. rate-limit waits", net, "s", "command wall", command),
            Row(f"{name}: local work", plain - net, "s", "command wall", command),
        ]  # fmt: skip
        if name == "demo":
            section.rows.append(Row("demo: under 8 s", command, "s", target="< 8 s",
                                    met=command < 8))  # fmt: skip
    nightly = median([f["nightly run"][0] for f in figures])
    section.rows.append(Row("nightly run, nothing new, against status", nightly, "s",
                            "`t212-etl status`, same warehouse", status, "<= 2 x status",
                            nightly <= 2 * status))  # fmt: skip
    return section
