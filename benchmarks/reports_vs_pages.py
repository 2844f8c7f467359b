"""Backfill of N years: CSV reports vs paging the JSON history, at the documented limits.

Runs the real pipeline against the sandbox with its documented rate limits
(history 6 / 60 s per endpoint; exports POST 1 / 30 s, GET 1 / 60 s) and every
window scaled by ``--scale`` so the run takes seconds. The time at the real limits is
the floor the limits set for the requests made (history: a burst of 6, then 60 s per 6
more pages, endpoint after endpoint; reports: 30 s between requests, 60 s between
polls) plus the work measured that was not waiting.

    python benchmarks/reports_vs_pages.py --years 5
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from extractors.client import RetryPolicy
from flows.pipeline.run import RunOptions, run_export
from flows.pipeline.settings import AccountConfig, Settings
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, Sandbox, SandboxConfig
from sandbox.config import SandboxSize

JSON_HISTORY = ["dividends", "orders", "transactions"]


def floor(name: str, requests: int, years: int) -> float:
    """Seconds the documented limits impose on ``requests`` to one resource."""
    if name == "reports":
        return (years - 1) * 30.0 + max(0, requests - years - 1) * 60.0
    return max(0, math.ceil(requests / 6) - 1) * 60.0


def measure(sb: Sandbox, only: list[str], start_year: int) -> tuple[float, float, int]:
    """(measured seconds, seconds at the real limits, requests) of one fresh backfill."""
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            accounts=(AccountConfig("b", "demo", sb.base_url, key_env="K", secret_env="S"),),
            environ={"K": DEMO_KEY, "S": DEMO_SECRET},
            reports_start_year=start_year,
        )
        started = time.monotonic()
        summary = run_export(
            settings, RunOptions(only=only, client_options={"retry": RetryPolicy(max_attempts=3)})
        )
        wall = time.monotonic() - started
    if summary.exit_code:
        raise SystemExit(f"backfill failed: {summary.errors()}")
    results = [r for a in summary.accounts for r in a.resources if r.resource in only]
    years = datetime.now(UTC).year - start_year + 1
    limits = sum(floor(r.resource, r.stats.requests, years) for r in results)
    work = wall - sum(r.stats.wait_seconds for r in results)
    return wall, limits + work, sum(r.stats.requests for r in results)


def main() -> None:
    """Measure both backfills for one history size and print them with their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--per-year", type=int, default=600, help="history items a year")
    parser.add_argument("--scale", type=float, default=0.005, help="rate-limit time scale")
    parser.add_argument("--report-seconds", type=float, default=30.0, help="report build time")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n = int(args.per_year * args.years)
    size = SandboxSize(dividends=n // 6, orders=n // 2, transactions=n // 3, years=args.years)
    spec = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, "invest", size=size)
    now = datetime.now(UTC).replace(microsecond=0)
    config = SandboxConfig(
        accounts=(spec,), time_scale=args.scale, now=now, report_seconds=args.report_seconds
    )
    with Sandbox(config) as sb:
        book = sb.books[DEMO_ACCOUNT_ID]
        first = min(s.time_ms(0) for s in (book.dividends, book.orders, book.transactions))
        start_year = datetime.fromtimestamp(first / 1000, UTC).year
        figures = {
            "JSON pages": measure(sb, JSON_HISTORY, start_year),
            "CSV reports": measure(sb, ["reports"], start_year),
        }
    print(
        f"{args.years:g} years, {n} history items ({size.dividends} dividends, {size.orders} "
        f"orders, {size.transactions} transactions), {now.year - start_year + 1} calendar "
        f"years, limits scaled by {args.scale:g}, reports built in {args.report_seconds:g} s"
    )
    real = {}
    for name, (wall, at_limits, requests) in figures.items():
        real[name] = at_limits
        print(
            f"{name:<12} {requests:>5} requests  {wall:7.2f} s measured  "
            f"{real[name]:8.0f} s at the real limits ({real[name] / 60:.1f} min)"
        )
    print(f"ratio: reports are {real['JSON pages'] / real['CSV reports']:.1f}x faster")


if __name__ == "__main__":
    main()
