"""The ``t212-etl sandbox`` command: options, and serving in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
from typing import TextIO

from sandbox.config import (
    DEMO_ACCOUNT_ID,
    DEMO_ISA_ACCOUNT_ID,
    DEMO_ISA_KEY,
    DEMO_ISA_SECRET,
    DEMO_KEY,
    DEMO_SECRET,
    SandboxConfig,
    SandboxSize,
    default_accounts,
)
from sandbox.faults import canonical
from sandbox.service import Sandbox

DEFAULT_PORT = 8212


def _fault_rate(text: str) -> tuple[str, float]:
    """Parse ``NAME=RATE`` (for example ``503=0.05``)."""
    name, sep, rate = text.partition("=")
    try:
        if not sep:
            raise ValueError("expected NAME=RATE")
        value = float(rate)
        if not 0 <= value <= 1:
            raise ValueError("rate must be between 0 and 1")
        return canonical(name.strip()), value
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox options to a (sub)parser."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=212, help="seed of the synthetic data")
    parser.add_argument("--instruments", type=int, default=3000, help="instruments listed")
    parser.add_argument("--positions", type=int, default=30, help="open positions")
    parser.add_argument("--dividends", type=int, default=600, help="dividends in the history")
    parser.add_argument("--orders", type=int, default=1500, help="orders in the history")
    parser.add_argument("--transactions", type=int, default=1000, help="transactions")
    parser.add_argument("--years", type=float, default=5.0, help="years of history")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies rate-limit windows and delays (0.001: 60 s become 60 ms)",
    )
    parser.add_argument(
        "--fault-rate",
        type=_fault_rate,
        action="append",
        default=[],
        metavar="NAME=RATE",
        help="random fault at a rate, repeatable: 500 502 503 429 slow drip reset truncated "
        "malformed html200 html502 echo_headers stuck_cursor foreign_cursor future_time "
        "stale_time",
    )
    parser.add_argument("--slow-seconds", type=float, default=30.0, help="delay of 'slow'")
    parser.add_argument(
        "--drip-seconds", type=float, default=1.0, help="pause between the bytes of 'drip'"
    )
    parser.add_argument(
        "--extra-fields", action="store_true", help="add fields the specification lacks"
    )
    parser.add_argument(
        "--history-days",
        type=int,
        default=None,
        metavar="N",
        help="the JSON history endpoints serve only the last N days (CSV exports serve all)",
    )
    parser.add_argument(
        "--burst-limit",
        type=int,
        default=None,
        metavar="N",
        help="answer 429 to more than N requests to one endpoint within a second (scaled)",
    )


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """The configuration the parsed options describe (Invest with these sizes, plus an ISA)."""
    size = SandboxSize(
        instruments=args.instruments,
        positions=args.positions,
        dividends=args.dividends,
        orders=args.orders,
        transactions=args.transactions,
        years=args.years,
    )
    isa_size = SandboxSize(
        instruments=args.instruments,
        positions=max(1, min(args.positions, args.instruments // 2) * 2 // 3),
        dividends=args.dividends // 2,
        orders=args.orders // 2,
        transactions=args.transactions // 2,
        years=args.years,
    )
    invest, isa = default_accounts()
    accounts = tuple(
        dataclasses.replace(spec, size=sized, history_days=args.history_days)
        for spec, sized in ((invest, size), (isa, isa_size))
    )
    return SandboxConfig(
        seed=args.seed,
        time_scale=args.time_scale,
        accounts=accounts,
        host=args.host,
        port=args.port,
        extra_fields=args.extra_fields,
        slow_seconds=args.slow_seconds,
        drip_seconds=args.drip_seconds,
        burst_limit=args.burst_limit,
    )


def run_foreground(
    args: argparse.Namespace, out: TextIO = sys.stdout, stop: threading.Event | None = None
) -> int:
    """Serve until Ctrl-C (or until ``stop`` is set); print the URL, keys and env vars first."""
    sandbox = Sandbox(config_from(args))
    rates = dict(args.fault_rate)
    if rates:
        sandbox.set_fault_rates(**rates)
    sandbox.start()
    url = sandbox.base_url
    print(f"Trading 212 sandbox serving on {url}", file=out)
    print(
        f"  Invest account {DEMO_ACCOUNT_ID} (EUR): key {DEMO_KEY}  secret {DEMO_SECRET}", file=out
    )
    print(
        f"  ISA account {DEMO_ISA_ACCOUNT_ID} (GBP): key {DEMO_ISA_KEY}  secret {DEMO_ISA_SECRET}",
        file=out,
    )
    print("Point t212-etl at it with:", file=out)
    print(f"  export T212_BASE_URL={url}", file=out)
    print(f"  export T212_API_KEY={DEMO_KEY}", file=out)
    print(f"  export T212_API_SECRET={DEMO_SECRET}", file=out)
    if rates:
        print(f"Random faults: {rates}", file=out)
    print(f"Truth and controls under {url}/_sandbox/ . Press Ctrl-C to stop.", file=out)
    out.flush()
    stop = stop or threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        print("stopping", file=out)
    finally:
        sandbox.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m sandbox.cli``: the same command without the project's CLI."""
    parser = argparse.ArgumentParser(prog="t212-sandbox", description=__doc__)
    add_arguments(parser)
    return run_foreground(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
