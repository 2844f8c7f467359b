"""`python -m benchmarks [--smoke]`: run every benchmark and write benchmarks/RESULTS.md."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks import (
    accounts,
    bigaccount,
    endtoend,
    lake,
    local,
    network,
    portfolio,
    publish,
    views,
)
from benchmarks.latency import DELAY_MS
from benchmarks.results import render

RESULTS = Path(__file__).with_name("RESULTS.md")
# the parts that take nothing but the common options
PLAIN = {
    "endtoend": endtoend,
    "bigaccount": bigaccount,
    "publish": publish,
    "portfolio": portfolio,
    "accounts": accounts,
    "views": views,
}
PARTS = ("network", "local", *PLAIN, "lake")


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the chosen benchmarks, write the results file."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"any of {', '.join(PARTS)}")
    parser.add_argument("--rows", type=int, default=None, help="local side: history rows")
    parser.add_argument(
        "--dlt-rows",
        type=int,
        default=100_000,
        help="local side: rows for the dlt reference (0: leave it out)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=DELAY_MS, help="lake: delay per store request"
    )
    parser.add_argument("--lake-accounts", default="1,10", help="lake: 1 (busy), 10 or both")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    runs = 1 if args.smoke else args.runs
    started = time.monotonic()
    sections = []
    if "network" in parts:
        sections += network.run(smoke=args.smoke, runs=runs)
    if "local" in parts:
        sections.append(
            local.run(smoke=args.smoke, runs=runs, rows=args.rows, dlt_rows=args.dlt_rows)
        )
    for name, part in PLAIN.items():
        if name in parts:
            sections.append(part.run(smoke=args.smoke, runs=runs))
    if "lake" in parts:
        counts = tuple(int(n) for n in args.lake_accounts.split(","))
        sections.append(
            lake.run(smoke=args.smoke, runs=runs, delay_ms=args.latency_ms, accounts=counts)
        )
    text = render(sections, runs=runs, smoke=args.smoke, seconds=time.monotonic() - started)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
