"""The network side: backfill against the rate-limit floor, nightly requests, reference lists."""

from __future__ import annotations

import math
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from benchmarks.endtoend import cli
from benchmarks.remote import RemoteSandbox
from benchmarks.results import Row, Section, median
from extractors.resources import RESOURCES, Kind
from flows.pipeline.run import RunSummary, run_export
from flows.pipeline.settings import AccountConfig, Settings
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, AccountSpec, SandboxConfig
from sandbox import SandboxSize as Size

API = "/api/v0/equity"
HISTORY = ("dividends", "orders", "transactions")
ENV = {"T212_BENCH_KEY": DEMO_KEY, "T212_BENCH_SECRET": DEMO_SECRET}
SNAPSHOTS = sum(1 for r in RESOURCES.values() if r.kind == Kind.SNAPSHOT)
# the backfill's sandbox answers 429 to more than this many requests to one endpoint
# within a (scaled) second, as a server that asks for evenly spaced requests may
BURST_LIMIT = 2


def sandbox_for(size: Size, time_scale: float, burst_limit: int | None = None) -> RemoteSandbox:
    """A sandbox of one Invest account with the documented limits, time scaled."""
    account = AccountSpec(DEMO_ACCOUNT_ID, "EUR", DEMO_KEY, DEMO_SECRET, size=size)
    config = SandboxConfig(accounts=(account,), time_scale=time_scale, burst_limit=burst_limit)
    return RemoteSandbox(config)


def settings_for(sb: RemoteSandbox, data_dir: Path) -> Settings:
    """Settings with the sandbox account, its key pair in a private environment mapping."""
    account = AccountConfig(
        "invest", "demo", sb.base_url, key_env="T212_BENCH_KEY", secret_env="T212_BENCH_SECRET"
    )
    return Settings(data_dir=data_dir, accounts=(account,), environ=ENV)


def floor_seconds(pages: int, limit: int, period: float) -> float:
    """The least time ``pages`` evenly spaced requests take under ``limit`` per ``period``.

    Requests go ``period / limit`` apart from the first, so the last of ``pages`` starts
    ``pages - 1`` intervals after it.
    """
    return max(0, pages - 1) * period / limit


def burst_floor_seconds(pages: int, limit: int, period: float) -> float:
    """The least time with bursts allowed: ``ceil(pages / limit) - 1`` full windows."""
    return max(0, math.ceil(pages / limit) - 1) * period


def history_pages(sb: RemoteSandbox) -> dict[str, int]:
    """Requests answered per history endpoint of the account."""
    counts = sb.request_counts(DEMO_ACCOUNT_ID)
    return {name: counts.get(f"{API}/history/{name}", 0) for name in HISTORY}


def _requests(summary: RunSummary) -> tuple[int, int]:
    stats = [r.stats for a in summary.accounts for r in a.resources]
    return sum(s.requests for s in stats), sum(s.rate_limited for s in stats)


def command_backfill(size: Size, time_scale: float) -> float:
    """Wall seconds of `t212-etl run` backfilling a fresh sandbox (no Prefect API configured)."""
    with tempfile.TemporaryDirectory() as tmp, sandbox_for(size, time_scale) as sb:
        env = {"T212_API_KEY": DEMO_KEY, "T212_API_SECRET": DEMO_SECRET, "T212_ENV": "demo",
               "T212_BASE_URL": sb.base_url}  # fmt: skip
        return cli(["run", "--data-dir", str(Path(tmp) / "data")], env, Path(tmp))


def backfill(size: Size, time_scale: float, runs: int) -> tuple[Section, list[Row]]:
    """Backfill wall time against the floor; then the incremental runs on the last warehouse."""
    walls, floors, limited, commands = [], [], [], []
    for _ in range(runs):
        commands.append(command_backfill(size, time_scale))
        with (
            tempfile.TemporaryDirectory() as tmp,
            sandbox_for(size, time_scale, BURST_LIMIT) as sb,
        ):
            limit, period = sb.config.limits()[f"GET {API}/history/dividends"]
            started = time.perf_counter()
            summary = run_export(settings_for(sb, Path(tmp)))
            walls.append(time.perf_counter() - started)
            assert summary.exit_code == 0, summary.errors()
            pages = history_pages(sb)
            floors.append(max(floor_seconds(p, limit, period * time_scale) for p in pages.values()))
            limited.append(_requests(summary)[1])
            incremental = incremental_rows(sb, Path(tmp))
    wall, floor, command = median(walls), median(floors), median(commands)
    bursts = max(burst_floor_seconds(p, limit, period * time_scale) for p in pages.values())
    # what is not waiting (start-up, the last merge) does not scale with the limits
    real = floor / time_scale + max(0.0, wall - floor)
    items = (
        f"{size.dividends:,} dividends, {size.orders:,} orders, {size.transactions:,} transactions"
    )
    section = Section(
        "Network: backfill at the rate limit",
        f"A first run of one account with {items} (50 items a page) against the sandbox with "
        f"the documented limits (history 6 requests per 60 s each), time scaled by {time_scale}, "
        f"answering 429 to more than {BURST_LIMIT} requests to one endpoint within a scaled "
        "second. Requests are spaced evenly, so the floor is the least time evenly spaced "
        "requests take: the three history endpoints have separate limits, so it is the "
        "largest of `(pages - 1) x 10 s x scale` over them "
        f"({', '.join(f'{k}: {v} pages' for k, v in pages.items())}); with bursts allowed "
        f"it would be `(ceil(pages / 6) - 1) x 60 s x scale` = {bursts:.2f} s.",
        [
            Row(
                "backfill wall time",
                wall,
                "s",
                "rate-limit floor (paced)",
                floor,
                "<= 1.02 x floor",
                wall <= 1.02 * floor,
            ),
            Row(
                "backfill at real time scale (floor / scale + the same time over it)",
                real,
                "s",
                "rate-limit floor (paced)",
                floor / time_scale,
                "<= 1.02 x floor",
                real <= 1.02 * floor / time_scale,
            ),
            Row("429 answers", max(limited), "", "", None, "0", max(limited) == 0),
            Row(
                "`t212-etl run` backfill, the whole command",
                command,
                "s",
                "rate-limit floor",
                floor,
                "<= 1.05 x floor + 2 s",
                command <= 1.05 * floor + 2,
            ),
        ],
        [
            f"runs: {', '.join(f'{w:.2f}' for w in walls)} s; the command: "
            f"{', '.join(f'{c:.2f}' for c in commands)} s"
        ],
    )
    return section, incremental


def incremental_rows(sb: RemoteSandbox, data_dir: Path) -> list[Row]:
    """Requests of a nightly run with no new activity and with one new day, against the least."""
    settings = settings_for(sb, data_dir)
    rows = []
    for label, days in (("no new activity", 0), ("one new day", 1)):
        before = sb.truth(DEMO_ACCOUNT_ID)
        if days:
            sb.advance(days)
        after = sb.truth(DEMO_ACCOUNT_ID)
        sb.reset_counts()
        summary = run_export(settings)
        assert summary.exit_code == 0, summary.errors()
        made = sum(sb.request_counts(DEMO_ACCOUNT_ID).values())
        # each snapshot (the summary, which names the account, positions, pending orders)
        # is one request, and each history endpoint needs the pages that hold its new
        # items, then one more to see only known items (an item listed out of order may
        # follow new ones); one page when none is new
        new = [after[n]["count"] - before[n]["count"] for n in HISTORY]
        least = SNAPSHOTS + sum(math.ceil(k / 50) + 1 if k else 1 for k in new)
        rows.append(Row(f"nightly run, {label}: requests", made, "", "minimum possible", least,
                        "= minimum", made == least))  # fmt: skip
    return rows


def reference_lists(size: Size, time_scale: float, max_age_hours: int = 12) -> list[Row]:
    """Instrument and exchange requests over one simulated day of runs every two hours."""
    start = datetime(2025, 7, 1, 2, 30, tzinfo=UTC)
    now = [start]
    with tempfile.TemporaryDirectory() as tmp, sandbox_for(size, time_scale) as sb:
        settings = settings_for(sb, Path(tmp))
        with mock.patch("flows.pipeline.run.now_utc", lambda: now[0]):
            for k in range(12):
                now[0] = start + timedelta(hours=2 * k)
                assert run_export(settings).exit_code == 0
        counts = sb.request_counts(DEMO_ACCOUNT_ID)
    allowed = math.ceil(24 / max_age_hours)
    return [
        Row(f"{name}: requests in a day of 12 runs", counts.get(f"{API}/metadata/{name}", 0), "",
            f"configured (every {max_age_hours} h)", allowed, f"<= {allowed}",
            counts.get(f"{API}/metadata/{name}", 0) <= allowed)
        for name in ("instruments", "exchanges")
    ]  # fmt: skip


def run(*, smoke: bool, runs: int) -> list[Section]:
    """Every network benchmark."""
    n = 300 if smoke else 5000
    size = Size(instruments=300 if smoke else 16000, positions=20, dividends=n, orders=n,
                transactions=n)  # fmt: skip
    scale = 0.001 if smoke else 0.01
    section, incremental = backfill(size, scale, runs)
    nightly = Section(
        "Network: nightly runs and reference lists",
        "Requests made, counted by the sandbox, after the backfill above; then twelve runs "
        "two simulated hours apart for the instrument and exchange lists "
        "(`reference_max_age_hours = 12`).",
        incremental + reference_lists(Size(instruments=300, positions=5, dividends=60, orders=60,
                                           transactions=60), 0.001),
    )  # fmt: skip
    return [section, nightly]
