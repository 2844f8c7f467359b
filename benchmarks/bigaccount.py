"""A busy account's first nightly export, end to end, against a plain script, at 1x, 2x, 4x.

The sandbox runs in a process of its own with no rate limit to speak of (time scaled by
1e-6), holding 150,000 dividends, 60,000 orders (with fills and taxes) and 40,000
transactions times the scale, plus 16,000 instruments. `t212-etl run` exports it from
empty, then again with `--full-refresh` (every row read again, compared, none new); the
reference (``plainscript``) pages the same endpoints with httpx and loads them with
DuckDB's ``read_json``. Prefect's start-up is measured as the wall time of a run that
exports the account summary only (the second of two, caches warm), and taken off the
full run's wall time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.plainscript import timed_plain
from benchmarks.remote import RemoteSandbox
from benchmarks.results import Row, Section, median
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, SandboxConfig, SandboxSize
from warehouse import connect_readonly

CLI = str(Path(sys.executable).with_name("t212-etl"))
BASE = {"dividends": 150_000, "orders": 60_000, "transactions": 40_000}
SMOKE = {"dividends": 600, "orders": 300, "transactions": 200}
SCALES = (1, 2, 4)
MEMORY_TARGET_MIB = 1024


def config(sizes: dict[str, int], scale: int) -> SandboxConfig:
    """The sandbox holding one account of ``sizes`` times ``scale``."""
    size = SandboxSize(
        instruments=16_000,
        positions=30,
        **{name: count * scale for name, count in sizes.items()},
        years=5.0 * scale,
    )
    account = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, "invest", size=size)
    return SandboxConfig(time_scale=1e-6, accounts=(account,))


def run_cli(args: list[str], base_url: str, logs: Path) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one ``t212-etl`` command, which must succeed."""
    env = {**os.environ, "T212_API_KEY": DEMO_KEY, "T212_API_SECRET": DEMO_SECRET,
           "T212_ENV": "demo", "T212_BASE_URL": base_url}  # fmt: skip
    log = logs.with_suffix(".log")
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen([CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"t212-etl {' '.join(args)} failed: {log.read_text()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def exact(data_dir: Path, truth: dict) -> bool:
    """Whether the history tables hold the sandbox's counts and totals, each key once."""
    checks = {
        "SELECT count(DISTINCT reference), count(*), sum(amount) FROM dividends": (
            truth["dividends"]["count"], truth["dividends"]["count"], truth["dividends"]["amount"]),
        "SELECT count(DISTINCT reference), count(*), sum(amount) FROM transactions": (
            truth["transactions"]["count"], truth["transactions"]["count"],
            truth["transactions"]["amount"]),
        "SELECT count(DISTINCT order_id), count(*) FROM orders": (
            truth["orders"]["count"], truth["orders"]["count"]),
        "SELECT count(*), sum(wallet_impact_net_value) FROM fills": (
            truth["orders"]["fills"], truth["orders"]["fill_net_value"]),
        "SELECT count(*) FROM fill_taxes": (truth["orders"]["taxes"],),
    }  # fmt: skip
    con = connect_readonly(data_dir)
    try:
        return all(con.execute(sql).fetchone() == want for sql, want in checks.items())
    finally:
        con.close()


def measure(sizes: dict[str, int], scale: int, tmp: Path) -> dict[str, float]:
    """Every figure of one scale."""
    figures: dict[str, float] = {}
    with RemoteSandbox(config(sizes, scale)) as sb:
        data = tmp / f"data-{scale}"
        # twice, the first one warming the caches that every later command finds warm
        for _ in range(2):
            startup, _ = run_cli(["run", "--only", "account_summary", "--data-dir",
                                  str(tmp / f"startup-{scale}")], sb.base_url,
                                 tmp / "startup")  # fmt: skip
        figures["first"], figures["first_mib"] = run_cli(["run", "--data-dir", str(data)],
                                                         sb.base_url, tmp / "first")  # fmt: skip
        figures["startup"] = startup
        figures["exact"] = float(exact(data, sb.truth(DEMO_ACCOUNT_ID)))
        figures["refresh"], figures["refresh_mib"] = run_cli(
            ["run", "--full-refresh", "--data-dir", str(data)], sb.base_url, tmp / "refresh"
        )
        figures["reference"], rows = timed_plain(sb.base_url, (DEMO_KEY, DEMO_SECRET),
                                                 tmp / f"plain-{scale}")  # fmt: skip
        figures["rows"] = float(sum(rows.values()))
    return figures


def run(*, smoke: bool, runs: int) -> Section:
    """The first export and a full refresh at each scale, against the plain script."""
    sizes = SMOKE if smoke else BASE
    section = Section(
        "End to end: a busy account's first export (no rate limit)",
        f"`t212-etl run` from empty against the sandbox in its own process, with "
        f"{sizes['dividends']:,} dividends, {sizes['orders']:,} orders and "
        f"{sizes['transactions']:,} transactions times the scale plus 16,000 instruments; "
        "then `run --full-refresh`. Reference: a plain script paging the same endpoints with "
        "httpx (three at once) and loading them with DuckDB's read_json, no raw zone, merge, "
        "cursor or Parquet. Prefect start-up is the wall time of a run of the account summary "
        "alone. Peak memory is the command's resident set. 2x and 4x are measured once.",
    )
    for scale in (1,) if smoke else SCALES:
        figures = []
        for _ in range(runs if scale == 1 else 1):  # the larger scales once: minutes each
            with tempfile.TemporaryDirectory(prefix="t212-big-") as tmp:
                figures.append(measure(sizes, scale, Path(tmp)))
        f = {k: median([x[k] for x in figures]) for k in figures[0]}
        net = f["first"] - f["startup"]
        section.rows += [
            Row(f"{scale}x: run wall time", f["first"], "s"),
            Row(f"{scale}x: run without Prefect start-up", net, "s", "plain script",
                f["reference"], "<= 2x", net <= 2 * f["reference"]),
            Row(f"{scale}x: rows per second (without start-up)", f["rows"] / net, "rows/s",
                "plain script", f["rows"] / f["reference"]),
            Row(f"{scale}x: run peak memory", f["first_mib"], "MiB", target="< 1 GiB",
                met=f["first_mib"] < MEMORY_TARGET_MIB),
            Row(f"{scale}x: full refresh wall time", f["refresh"], "s"),
            Row(f"{scale}x: full refresh peak memory", f["refresh_mib"], "MiB",
                target="< 1 GiB", met=f["refresh_mib"] < MEMORY_TARGET_MIB),
            Row(f"{scale}x: tables equal the sandbox's truth", f["exact"], "yes=1",
                target="1", met=f["exact"] == 1.0),
        ]  # fmt: skip
        section.notes.append(
            f"{scale}x: {f['rows']:,.0f} rows; Prefect start-up {f['startup']:.1f} s"
        )
    return section
