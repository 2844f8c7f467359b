"""The cost of object storage: runs publishing to a Delta lake on S3 (moto) against local Parquet.

The lake's clients reach moto through the latency proxy (``benchmarks.latency``), which
holds each request a fixed delay: 0 ms, then a real store's round trip (20 ms by default).
Requests are counted from moto's access log (``benchmarks.s3server``) by method and by what
they touch. The sandbox has no rate limit to speak of: storage is measured, not the API's
limits.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks.accounts import settings_for as accounts_settings
from benchmarks.latency import DELAY_MS, ProxyProcess
from benchmarks.remote import RemoteSandbox
from benchmarks.results import Row, Section, median
from benchmarks.s3server import BUCKET, PREFIX, Moto, Request, area, free_port, key_parts
from flows.pipeline import run as pipeline_run
from flows.pipeline.run import run_export
from flows.pipeline.settings import Settings
from sandbox import AccountSpec, SandboxConfig
from sandbox import SandboxSize as Size
from warehouse import lakepublisher

KINDS = ("GET", "LIST", "HEAD", "PUT", "POST", "DELETE")
AREAS = ("raw runs", "delta log", "table data", "database", "leases", "other")
# bigaccount's busy account
BUSY = Size(instruments=16_000, positions=30, dividends=150_000, orders=60_000,
            transactions=40_000, years=5.0)  # fmt: skip
# the many-accounts benchmark's account, ten of them
SMALL = Size(instruments=500, positions=20, dividends=300, orders=600, transactions=450, years=2)
TINY = Size(instruments=50, positions=5, dividends=60, orders=120, transactions=60, years=1)
TIME_SCALE = 1e-6
FIRST_ID = 21400001


def local_files(root: Path) -> dict[str, tuple[int, int]]:
    """(modification time, size) of every file under ``root``."""
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*") if p.is_file()}  # fmt: skip


def written(before: dict, after: dict, where: Callable[[str], str]) -> dict[str, list[int]]:
    """[objects, bytes] new or replaced between two listings, by ``where`` of their keys."""
    found: dict[str, list[int]] = {}
    for key, value in after.items():
        if before.get(key) != value:
            counts = found.setdefault(where(key), [0, 0])
            counts[0] += 1
            counts[1] += value[1]
    return found


@dataclass
class Phase:
    """One run of one store: its wall time and what it cost the store."""

    wall: float
    cpu: float  # CPU time of the exporting process (every thread), less noisy than wall
    requests: list[Request] = field(default_factory=list)
    written: dict[str, list[int]] = field(default_factory=dict)  # area: [objects, bytes]
    commits: int = 0
    vacuum: list[Request] | None = None  # the vacuum's requests, when it ran
    vacuum_wall: float = 0.0

    def tables(self) -> list[int]:
        """[objects, bytes] of table files written: Delta data and log, or local Parquet."""
        parts = [v for k, v in self.written.items() if k in ("tables", "table data", "delta log")]
        return [sum(p[0] for p in parts), sum(p[1] for p in parts)]

    def kinds(self) -> Counter:
        """Requests per kind."""
        return Counter(r.kind for r in self.requests)

    def areas(self) -> Counter:
        """Requests per area of the lake."""
        return Counter(r.area for r in self.requests)

    def log_commits(self) -> Counter:
        """Delta commits per table, from the log entries created."""
        return Counter(
            key_parts(r.key)[1]
            for r in self.requests
            if r.kind == "PUT" and r.area == "delta log" and r.key.endswith(".json")
            and r.status == 200
        )  # fmt: skip


def sandbox_accounts(count: int, size: Size) -> tuple[AccountSpec, ...]:
    """``count`` Invest accounts, each with its own key pair."""
    return tuple(
        AccountSpec(FIRST_ID + i, "EUR", f"lake-key-{i:03d}", f"lake-secret-{i:03d}", size=size)
        for i in range(count)
    )


def settings_for(sb: RemoteSandbox, data_dir: Path, storage_url: str | None) -> Settings:
    """The accounts benchmark's settings for every sandbox account, with the storage URL."""
    return replace(accounts_settings(sb, data_dir), storage_url=storage_url)


@contextmanager
def _lakes_seen(found: list, moto: Moto, vacuums: list) -> Iterator[None]:
    """Keep every Lake a run opens, for its commit count, and time and count its vacuum."""
    publisher_for = pipeline_run.publisher_for
    vacuum = lakepublisher.vacuum_tables

    def keep(*args: Any, **kwargs: Any) -> Any:
        publisher = publisher_for(*args, **kwargs)
        found.append(publisher.lake)  # a run on moto names a storage URL
        return publisher

    def counted(*args: Any, **kwargs: Any) -> int:
        mark, started = moto.mark(), time.perf_counter()
        try:
            return vacuum(*args, **kwargs)
        finally:
            wall = time.perf_counter() - started
            vacuums.append((wall, moto.requests(mark, moto.mark())))

    with (
        mock.patch.object(pipeline_run, "publisher_for", keep),
        mock.patch.object(lakepublisher, "vacuum_tables", counted),
    ):
        yield


def nights(
    count: int, size: Size, tmp: Path, moto: Moto | None = None, delay: float = 0.0
) -> dict[str, Phase]:
    """The first run from empty, the next night's (vacuum not due) and the night after's
    (vacuum due), each night one new day of activity and reference lists a day old; with
    ``moto``, on a lake of its own reached through the proxy holding requests ``delay`` s."""
    config = SandboxConfig(accounts=sandbox_accounts(count, size), time_scale=TIME_SCALE)
    name = "local" if moto is None else f"s3-{delay * 1000:g}ms"
    url = None if moto is None else f"s3://{BUCKET}/{PREFIX}/{count}-{name}"
    phases: dict[str, Phase] = {}
    start = datetime.now(UTC)
    with RemoteSandbox(config) as sb, ExitStack() as stack:
        if moto is not None:
            proxy = stack.enter_context(ProxyProcess(moto.endpoint, delay, free_port()))
            stack.enter_context(mock.patch.dict(os.environ, moto.env(proxy.endpoint)))
        settings = settings_for(sb, tmp / f"data-{count}-{name}", url)
        for night, name in enumerate(("first run", "nightly run", "nightly run, vacuum due")):
            if night:
                sb.advance(1)
            # the vacuum is due a day after the last (lakepublisher.py reads the real clock): only
            # the first run has it, unless the third run says it is due
            vacuum = night != 1
            phases[name] = _phase(settings, moto, start + timedelta(days=night), vacuum)
    return phases


def _phase(settings: Settings, moto: Moto | None, now: datetime, vacuum: bool) -> Phase:
    """One run at ``now``; ``vacuum`` makes the daily vacuum due."""
    lakes: list = []
    vacuums: list[tuple[float, list[Request]]] = []
    before = moto.objects() if moto else local_files(settings.data_dir / "parquet")
    mark = moto.mark() if moto else 0
    with ExitStack() as stack:
        if moto is not None:
            stack.enter_context(_lakes_seen(lakes, moto, vacuums))
        stack.enter_context(mock.patch.object(pipeline_run, "now_utc", lambda: now))
        if vacuum:
            stack.enter_context(mock.patch("warehouse.lake.VACUUM_EVERY", timedelta(0)))
        started, cpu = time.perf_counter(), time.process_time()
        summary = run_export(settings)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert summary.exit_code == 0, summary.errors()
    if moto is None:
        files = written(before, local_files(settings.data_dir / "parquet"), lambda _: "tables")
        return Phase(wall, cpu, written=files)
    requests = moto.requests(mark, moto.mark())
    objects = written(before, moto.objects(), area)
    commits = sum(lake.commits for lake in lakes)
    swept = [r for _, rs in vacuums for r in rs] if vacuums else None
    return Phase(wall, cpu, requests, objects, commits, swept, sum(w for w, _ in vacuums))


def measure(
    sizes: dict[int, Size], tmp: Path, delays: tuple[float, ...]
) -> dict[tuple[str, int], dict[str, Phase]]:
    """Every phase of every account count, local and on the S3 lake at each delay."""
    found = {}
    with Moto(tmp / "moto.log") as moto:
        for count, size in sizes.items():
            found["local", count] = nights(count, size, tmp)
            for delay in delays:
                found[_store(delay), count] = nights(count, size, tmp, moto, delay)
    return found


def _store(delay: float) -> str:
    return f"S3 at {delay * 1000:g} ms"


def _describe(count: int, size: Size) -> str:
    return (
        f"{count} account{'s' if count > 1 else ''} of {size.dividends:,} dividends, "
        f"{size.orders:,} orders, {size.transactions:,} transactions and "
        f"{size.instruments:,} instruments"
    )


def _mib(n: float) -> float:
    return n / 2**20


def run(
    *, smoke: bool, runs: int, delay_ms: float = DELAY_MS, accounts: tuple[int, ...] = (1, 10)
) -> Section:
    """A first run and two nightly runs, local and on an S3 lake at 0 ms and ``delay_ms`` a
    request, for one busy account and for ten (``accounts`` picks which)."""
    sizes = {1: TINY} if smoke else {n: {1: BUSY, 10: SMALL}[n] for n in accounts}
    delays = tuple(dict.fromkeys((0.0, delay_ms / 1000)))
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="t212-lake-") as tmp:
            results.append(measure(sizes, Path(tmp), delays))
    section = Section(
        "Object storage: the lake on S3",
        f"`run_export` of {' and of '.join(_describe(n, s) for n, s in sizes.items())}, "
        "against the sandbox in its own process with no rate limit to speak of, publishing "
        "(a) to the local Parquet datasets, (b) to a Delta lake at `s3://…` on moto's S3 "
        "server on loopback (`storage_url`), reached through a proxy that holds each request "
        f"{' ms, then '.join(f'{d * 1000:g}' for d in delays)} ms (a real store's round "
        "trip is 10-50 ms): one run from empty, then two nightly runs, each a day later (one "
        "new day of activity; the reference lists are a day old, so fetched and published "
        "again). Requests are counted from moto's access log, by method (LIST is a GET with "
        "`list-type=2`) and by what they touch; CPU is the exporting process's (all its "
        "threads; the sandbox, proxy and moto run apart); written is the size of every "
        "object (or local Parquet file) new or replaced by the run; commits are the lake's "
        "Delta commits. The daily vacuum runs in the first run (a fresh worker has never "
        "vacuumed) and in the third (made due), not in the second.",
    )
    phases = results[0][("local", next(iter(sizes)))].keys()
    for count in sizes:
        for phase in phases:
            for delay in delays:
                _report(section, results, count, phase, _store(delay))
    return section


def _report(section: Section, results: list, count: int, phase: str, store: str) -> None:
    """The rows and the note of one phase of one account count on one store."""

    def med(store: str, get: Callable[[Phase], float]) -> float:
        return median([get(r[store, count][phase]) for r in results])

    label = f"{count} account{'s' if count > 1 else ''}, {phase}, {store}"
    p, local = results[0][store, count][phase], results[0]["local", count][phase]
    kinds = {k: med(store, lambda x, k=k: x.kinds()[k]) for k in KINDS}
    shown = ", ".join(f"{k} {v:,.0f}" for k, v in kinds.items() if v)
    section.rows += [
        Row(f"{label}: wall time", med(store, lambda x: x.wall), "s", "local",
            med("local", lambda x: x.wall)),
        Row(f"{label}: CPU time", med(store, lambda x: x.cpu), "s", "local",
            med("local", lambda x: x.cpu)),
        Row(f"{label}: requests ({shown})", sum(kinds.values()), ""),
        Row(f"{label}: tables written ({p.tables()[0]:,} objects)",
            _mib(med(store, lambda x: x.tables()[1])), "MiB",
            f"local Parquet ({local.tables()[0]:,} files)",
            _mib(med("local", lambda x: x.tables()[1]))),
        Row(f"{label}: Delta commits", med(store, lambda x: x.commits), ""),
    ]  # fmt: skip
    if p.vacuum is not None:
        swept = Counter(r.kind for r in p.vacuum)
        seconds = med(store, lambda x: x.vacuum_wall)
        section.rows.append(Row(
            f"{label}: of which the vacuum, requests "
            f"({', '.join(f'{k} {n:,}' for k, n in swept.items())}; {seconds:.1f} s)",
            med(store, lambda x: len(x.vacuum or ())), ""))  # fmt: skip
    section.notes.append(_note(label, p))


def _note(label: str, p: Phase) -> str:
    """Requests by area and kind, objects written, commits and failed answers of a phase."""
    by_area = Counter((r.area, r.kind) for r in p.requests)
    areas = "; ".join(
        f"{a} {sum(n for (x, _), n in by_area.items() if x == a):,} ("
        + ", ".join(f"{k} {by_area[a, k]:,}" for k in KINDS if by_area[a, k]) + ")"
        for a in AREAS if any(x == a for x, _ in by_area)
    )  # fmt: skip
    uploads = ", ".join(f"{a} {n:,} ({_mib(b):.2f} MiB)" for a, (n, b) in sorted(p.written.items()))
    tables = p.log_commits()
    failed = Counter(f"{r.kind} {r.status}" for r in p.requests if r.status >= 300)
    return (
        f"{label}{' (with the vacuum)' if p.vacuum is not None else ''}: requests by "
        f"area: {areas}; objects written: {uploads}; commits to {len(tables)} tables, "
        f"most {', '.join(f'{t} {n}' for t, n in tables.most_common(4))}; answers not "
        f"2xx: {', '.join(f'{k} x{n}' for k, n in failed.most_common()) or 'none'}"
    )
