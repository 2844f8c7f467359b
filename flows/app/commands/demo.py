"""`t212-etl demo` (the sandbox on a free loopback port, exported by the real pipeline) and
`t212-etl sandbox` (the sandbox served in the foreground)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flows.app.commands import EXIT_OK
from flows.pipeline.run import RunSummary
from sandbox import DEMO_ISA_KEY, DEMO_ISA_SECRET, DEMO_KEY, DEMO_SECRET, Sandbox, SandboxConfig
from transforms.catalogue import TABLES
from warehouse import connect_readonly
from warehouse.files import ensure_dir, write_atomic

# Sandbox time runs 100 times faster, so the demo's rate-limit waits take seconds.
DEMO_TIME_SCALE = 0.01

DEMO_CONFIG = """# Written by `t212-etl demo`: two sandbox accounts, keys read from the environment.
[export]
with_reports = true   # also the yearly CSV reports: withholding tax, interest, fees

[[accounts]]
name = "invest"
env = "demo"
base_url = "{base_url}"
key_env = "T212_DEMO_INVEST_KEY"
secret_env = "T212_DEMO_INVEST_SECRET"

[[accounts]]
name = "isa"
env = "demo"
base_url = "{base_url}"
wrapper = "isa"   # a Stocks ISA: its gains are free of capital gains tax
key_env = "T212_DEMO_ISA_KEY"
secret_env = "T212_DEMO_ISA_SECRET"
"""

EXAMPLE_QUERIES = (
    "SELECT month, currency, gross_amount FROM dividends_monthly ORDER BY month DESC LIMIT 12",
    "SELECT ticker, income_ttm, yield_on_cost FROM dividend_income_by_ticker "
    "ORDER BY income_ttm DESC NULLS LAST LIMIT 10",
    "SELECT ticker, quantity, wallet_impact_current_value FROM positions_latest "
    "ORDER BY wallet_impact_current_value DESC LIMIT 10",
)


def cmd_demo(args: argparse.Namespace) -> int:
    """The sandbox on a free loopback port, exported into ./demo-data."""
    from flows.app.commands.run import print_summary, runner_for
    from flows.pipeline.progress import Progress, activate

    activate(Progress())
    return run_demo(Path(args.data_dir), runner_for(), print_summary)


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve the sandbox in the foreground."""
    from sandbox.cli import run_foreground

    run_foreground(args, out=sys.stdout)
    return EXIT_OK


def run_demo(
    data_dir: Path,
    run_flow: Callable[..., RunSummary],
    print_summary: Callable[[RunSummary], None],
) -> int:
    """Serve the sandbox, export both its accounts into ``data_dir``, print what loaded."""
    ensure_dir(data_dir)
    # The account's history ends today, so trailing-twelve-month views have data.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with Sandbox(SandboxConfig(time_scale=DEMO_TIME_SCALE, now=today)) as sandbox:
        config = data_dir / "demo.toml"
        write_atomic(config, DEMO_CONFIG.format(base_url=sandbox.base_url).encode())
        os.environ.update(
            T212_DEMO_INVEST_KEY=DEMO_KEY,
            T212_DEMO_INVEST_SECRET=DEMO_SECRET,
            T212_DEMO_ISA_KEY=DEMO_ISA_KEY,
            T212_DEMO_ISA_SECRET=DEMO_ISA_SECRET,
        )
        print(f"sandbox serving at {sandbox.base_url} (time runs 100x faster); exporting...")
        summary = run_flow(data_dir=str(data_dir), config=str(config))
    print_summary(summary)
    print_loaded(data_dir)
    return summary.exit_code


def print_loaded(data_dir: Path) -> None:
    """Tables and rows, where the files are, and queries to try."""
    con = connect_readonly(data_dir)
    try:
        counts = {
            name: con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0] for name in TABLES
        }
    finally:
        con.close()
    where = data_dir.resolve()
    print("\nloaded:")
    for name, n in counts.items():
        print(f"  {name:<26}{n:>8} rows")
    print(f"\nDuckDB:  {where / 'warehouse.duckdb'}")
    print(f"Parquet: {where / 'parquet'}/<table>/")
    print(f"Raw:     {where / 'raw'}/<account>/<resource>/<run>/")
    print("\ntry:")
    for query in EXAMPLE_QUERIES:
        print(f'  t212-etl sql --data-dir {data_dir} "{query}"')
