"""The portfolio model over 20 years of a busy account: deriving it, and its views answering.

The sandbox (in a process of its own, no rate limit to speak of) holds one account with
20 years of history; `t212-etl run` exports it from empty, which derives the model as
every run does. Then the derivation is timed again alone in a fresh process (its peak
memory is that process's), and every query of docs/portfolio.md and a full
read of every portfolio view run against the published file, each the median of five.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bigaccount import run_cli
from benchmarks.remote import RemoteSandbox
from benchmarks.results import Row, Section, median
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, SandboxConfig, SandboxSize
from warehouse import connect_readonly
from warehouse.portfolio_views import PORTFOLIO_VIEWS
from warehouse.tax_views import TAX_VIEWS

PAGE = Path(__file__).resolve().parents[1] / "docs" / "portfolio.md"
SIZES = {"orders": 120_000, "dividends": 40_000, "transactions": 20_000}
SMOKE = {"orders": 2_000, "dividends": 500, "transactions": 300}
TARGET_SECONDS = 1.0
_DERIVE = """
import sys, time
from datetime import UTC, datetime
from benchmarks.results import peak_mib
from pathlib import Path
from flows.pipeline.portfolio import refresh_portfolio
from warehouse import Warehouse
with Warehouse.open(Path(sys.argv[1])) as wh:
    started = time.perf_counter()
    counts = refresh_portfolio(wh, run_id="benchmark", loaded_at=datetime.now(UTC))
    seconds = time.perf_counter() - started
print(seconds, peak_mib(), counts["disposals"])
"""


def config(sizes: dict[str, int]) -> SandboxConfig:
    """One account holding ``sizes`` over 20 years."""
    size = SandboxSize(instruments=3000, positions=30, years=20.0, **sizes)
    account = AccountSpec(DEMO_ACCOUNT_ID, "GBP", DEMO_KEY, DEMO_SECRET, "invest", size=size)
    return SandboxConfig(time_scale=1e-6, accounts=(account,))


def portfolio_queries() -> list[str]:
    """The SQL blocks of docs/portfolio.md."""
    section = PAGE.read_text()
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def timed_query(data_dir: Path, sql: str, runs: int = 5) -> float:
    """Median seconds to run ``sql`` and fetch every row (as Arrow, as BI drivers read
    columns), each run on a fresh connection."""
    times = []
    for _ in range(runs):
        con = connect_readonly(data_dir)
        try:
            started = time.perf_counter()
            con.sql(sql).to_arrow_table()
            times.append(time.perf_counter() - started)
        finally:
            con.close()
    return median(times)


def derive(data_dir: Path) -> tuple[float, float, int]:
    """Seconds, peak MiB and disposals of one derivation in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _DERIVE, str(data_dir)], capture_output=True, text=True, check=True
    )
    seconds, peak, disposals = done.stdout.split()
    return float(seconds), float(peak), int(disposals)


def run(*, smoke: bool, runs: int) -> Section:
    """Export, derive, then time every portfolio query and view."""
    sizes = SMOKE if smoke else SIZES
    section = Section(
        "Portfolio model: 20 years of a busy account",
        f"One account with {sizes['orders']:,} orders, {sizes['dividends']:,} dividends and "
        f"{sizes['transactions']:,} transactions over 20 years, exported by `t212-etl run` "
        "(which derives the model), then the derivation alone in a fresh process, then each "
        "query of docs/portfolio.md and a full read of each portfolio view on "
        "the published file, fetched as Arrow (median of five, fresh connection each).",
    )
    with tempfile.TemporaryDirectory(prefix="t212-portfolio-") as tmp:
        data = Path(tmp) / "data"
        with RemoteSandbox(config(sizes)) as sb:
            wall, peak = run_cli(["run", "--data-dir", str(data)], sb.base_url, Path(tmp) / "run")
        derived = [derive(data) for _ in range(runs)]
        seconds, mib = median([d[0] for d in derived]), median([d[1] for d in derived])
        events = connect_readonly(data).execute("SELECT count(*) FROM position_events").fetchone()
        section.rows += [
            Row("nightly run from empty (export + model)", wall, "s"),
            Row("nightly run peak memory", peak, "MiB", target="< 1 GiB", met=peak < 1024),
            Row("deriving the model", seconds, "s"),
            Row("deriving the model: peak memory", mib, "MiB", target="< 1 GiB", met=mib < 1024),
        ]
        section.notes.append(f"{events[0]:,} position events, {derived[0][2]:,} disposals")
        for number, sql in enumerate(portfolio_queries(), 1):
            took = timed_query(data, sql)
            first = " ".join(sql.split())[:60]
            section.rows.append(
                Row(f"README query {number}: {first}...", took, "s",
                    target=f"< {TARGET_SECONDS:g} s", met=took < TARGET_SECONDS)
            )  # fmt: skip
        for view in {**PORTFOLIO_VIEWS, **TAX_VIEWS}:
            took = timed_query(data, f'SELECT * FROM "{view}"')
            section.rows.append(
                Row(f"every row of {view}", took, "s", target=f"< {TARGET_SECONDS:g} s",
                    met=took < TARGET_SECONDS)
            )  # fmt: skip
    return section
