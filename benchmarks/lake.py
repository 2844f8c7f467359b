"""The cost of object storage: runs publishing to a Delta lake on S3 (moto) against local Parquet.

moto's S3 server runs on loopback in a process of its own, its access log (werkzeug's, one
line per request) captured to a file: that log, not the client, counts the requests, by
method (a GET with ``list-type=2`` is a LIST) and by what they touch. Each phase is
bracketed by a marker request the log must show before the phase is read, so no line is
counted twice or missed. The sandbox has no rate limit to speak of: storage is measured,
not the API's limits.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
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
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from benchmarks.accounts import settings_for as accounts_settings
from benchmarks.remote import RemoteSandbox
from benchmarks.report import Row, Section, median
from flows.pipeline import run as pipeline_run
from flows.pipeline.run import run_export
from flows.pipeline.settings import Settings
from sandbox import AccountSpec, SandboxConfig
from sandbox import SandboxSize as Size

BUCKET = "t212-bench-lake"
PREFIX = "lake"
KINDS = ("GET", "LIST", "HEAD", "PUT", "POST", "DELETE")
# bigaccount's busy account
BUSY = Size(instruments=16_000, positions=30, dividends=150_000, orders=60_000,
            transactions=40_000, years=5.0)  # fmt: skip
# the many-accounts benchmark's account, ten of them
SMALL = Size(instruments=500, positions=20, dividends=300, orders=600, transactions=450, years=2)
TINY = Size(instruments=50, positions=5, dividends=60, orders=120, transactions=60, years=1)
TIME_SCALE = 1e-6
FIRST_ID = 21400001
_LINE = re.compile(r'"(GET|PUT|POST|DELETE|HEAD) (\S+) HTTP/[\d.]+" (\d{3})')
_MARK = "_benchmark_mark"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Request:
    """One line of the access log."""

    kind: str
    area: str
    key: str
    status: int


def _parts(key: str) -> list[str]:
    """A key's components under its lake (``lake/<accounts>/``)."""
    parts = key.split("/")
    return parts[2:] if parts[0] == PREFIX else parts


def area(key: str) -> str:
    """What a key under a lake is: a table's data or log, the raw zone, a database, a lease."""
    parts = _parts(key)
    if parts[0] == "tables":
        return "delta log" if "_delta_log" in parts else "table data"
    return {"raw": "raw runs", "duckdb": "database", "leases": "leases"}.get(parts[0], "other")


def parse(line: str) -> Request | None:
    """The request of one access-log line; None for any other line (start-up, markers)."""
    found = _LINE.search(line)
    if found is None or _MARK in line:
        return None
    method, target, status = found.group(1), found.group(2), int(found.group(3))
    url = urlsplit(target)
    query = parse_qs(url.query, keep_blank_values=True)
    kind = "LIST" if method == "GET" and query.get("list-type") == ["2"] else method
    path = unquote(url.path).removeprefix(f"/{BUCKET}").lstrip("/")
    key = query["prefix"][0] if kind == "LIST" and "prefix" in query else path
    return Request(kind, area(key), key, status)


class Moto:
    """moto's S3 server on loopback with its access log in a file; one bucket."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.endpoint = f"http://127.0.0.1:{free_port()}"
        self._proc: subprocess.Popen | None = None
        self._marks = 0

    def __enter__(self) -> Moto:
        port = self.endpoint.rsplit(":", 1)[1]
        with self.log.open("wb") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", port],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.endpoint, timeout=1)
                break
            except httpx.TransportError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto did not start: {self.log.read_text()[-500:]}"
                    ) from None
                time.sleep(0.1)
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def env(self) -> dict[str, str]:
        """The environment that points the lake's clients at this server (fake credentials)."""
        return {"AWS_ACCESS_KEY_ID": "benchmark", "AWS_SECRET_ACCESS_KEY": "benchmark",
                "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_ALLOW_HTTP": "true"}  # fmt: skip

    def client(self) -> Any:
        """A boto3 S3 client of this server."""
        import boto3

        env = self.env()
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=env["AWS_REGION"],
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip

    def mark(self) -> int:
        """The log's length once every request sent so far is in it.

        Requests are logged after their answers, so a marker request's line, once seen,
        follows the lines of every request answered before it.
        """
        self._marks += 1
        name = f"{_MARK}{self._marks}"
        httpx.head(f"{self.endpoint}/{BUCKET}/{name}", timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = self.log.read_bytes()
            at = text.find(f"/{name} ".encode())
            end = text.find(b"\n", at) if at >= 0 else -1
            if end >= 0:
                return end + 1
            time.sleep(0.02)
        raise RuntimeError("moto's access log did not show the marker request")

    def requests(self, start: int, end: int) -> list[Request]:
        """Every request logged between two marks."""
        with self.log.open("rb") as log:
            log.seek(start)
            lines = log.read(end - start).decode(errors="replace").splitlines()
        return [r for r in map(parse, lines) if r is not None]

    def objects(self) -> dict[str, tuple[str, int]]:
        """(ETag, size) of every object in the bucket."""
        found = {}
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for page in pages:
            for item in page.get("Contents", []):
                found[item["Key"]] = (item["ETag"], item["Size"])
        return found


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
            _parts(r.key)[1]
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

    def keep(*args: Any, **kwargs: Any) -> Any:
        publisher = publisher_for(*args, **kwargs)
        lake = publisher.lake  # a run on moto names a storage URL
        vacuum = lake.vacuum

        def counted(names: Any) -> int:
            mark, started = moto.mark(), time.perf_counter()
            try:
                return vacuum(names)
            finally:
                wall = time.perf_counter() - started
                vacuums.append((wall, moto.requests(mark, moto.mark())))

        lake.vacuum = counted
        found.append(lake)
        return publisher

    with mock.patch.object(pipeline_run, "publisher_for", keep):
        yield


def nights(count: int, size: Size, moto: Moto | None, tmp: Path) -> dict[str, Phase]:
    """The first run from empty, the next night's (vacuum not due) and the night after's
    (vacuum due), each night one new day of activity and reference lists a day old."""
    config = SandboxConfig(accounts=sandbox_accounts(count, size), time_scale=TIME_SCALE)
    url = None if moto is None else f"s3://{BUCKET}/{PREFIX}/{count}"
    phases: dict[str, Phase] = {}
    start = datetime.now(UTC)
    with RemoteSandbox(config) as sb, ExitStack() as stack:
        if moto is not None:
            stack.enter_context(mock.patch.dict(os.environ, moto.env()))
        settings = settings_for(sb, tmp / f"data-{count}-{'s3' if moto else 'local'}", url)
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
        started = time.perf_counter()
        summary = run_export(settings)
        wall = time.perf_counter() - started
    assert summary.exit_code == 0, summary.errors()
    if moto is None:
        files = written(before, local_files(settings.data_dir / "parquet"), lambda _: "tables")
        return Phase(wall, written=files)
    requests = moto.requests(mark, moto.mark())
    objects = written(before, moto.objects(), area)
    commits = sum(lake.commits for lake in lakes)
    swept = [r for _, rs in vacuums for r in rs] if vacuums else None
    return Phase(wall, requests, objects, commits, swept, sum(w for w, _ in vacuums))


def measure(sizes: dict[int, Size], tmp: Path) -> dict[tuple[str, int], dict[str, Phase]]:
    """Every phase of every account count, local and on the S3 lake."""
    found = {}
    with Moto(tmp / "moto.log") as moto:
        for count, size in sizes.items():
            found["local", count] = nights(count, size, None, tmp)
            found["s3", count] = nights(count, size, moto, tmp)
    return found


def _describe(count: int, size: Size) -> str:
    return (
        f"{count} account{'s' if count > 1 else ''} of {size.dividends:,} dividends, "
        f"{size.orders:,} orders, {size.transactions:,} transactions and "
        f"{size.instruments:,} instruments"
    )


def _mib(n: float) -> float:
    return n / 2**20


def run(*, smoke: bool, runs: int) -> Section:
    """A first run and two nightly runs, local and on an S3 lake, for one busy account and ten."""
    sizes = {1: TINY} if smoke else {1: BUSY, 10: SMALL}
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="t212-lake-") as tmp:
            results.append(measure(sizes, Path(tmp)))
    section = Section(
        "Object storage: the lake on S3",
        f"`run_export` of {' and of '.join(_describe(n, s) for n, s in sizes.items())}, "
        "against the sandbox in its own process with no rate limit to speak of, publishing "
        "(a) to the local Parquet datasets, (b) to a Delta lake at `s3://…` on moto's S3 "
        "server on loopback (`storage_url`): one run from empty, then two nightly runs, each "
        "a day later (one new day of activity; the reference lists are a day old, so fetched "
        "and published again). Requests are counted from moto's access log, by method (LIST "
        "is a GET with `list-type=2`); written is the size of every object (or local Parquet "
        "file) new or replaced by the run; commits are the lake's Delta commits. The daily "
        "vacuum runs in the first run (a fresh worker has never vacuumed) and in the third "
        "(made due), not in the second. Loopback has no latency: on a real store each "
        "request costs a round trip, 10-50 ms, mostly sequential within a commit.",
    )
    phases = results[0][("local", next(iter(sizes)))].keys()

    def med(store: str, count: int, phase: str, get: Callable[[Phase], float]) -> float:
        return median([get(r[store, count][phase]) for r in results])

    for count in sizes:
        label = f"{count} account{'s' if count > 1 else ''}"
        for phase in phases:
            p, local = results[0]["s3", count][phase], results[0]["local", count][phase]
            kinds = {k: med("s3", count, phase, lambda x, k=k: x.kinds()[k]) for k in KINDS}
            local_wall = med("local", count, phase, lambda x: x.wall)
            shown = ", ".join(f"{k} {v:,.0f}" for k, v in kinds.items() if v)
            section.rows += [
                Row(f"{label}, {phase}: wall time", med("s3", count, phase, lambda x: x.wall),
                    "s", "local", local_wall),
                Row(f"{label}, {phase}: requests ({shown})", sum(kinds.values()), ""),
                Row(f"{label}, {phase}: tables written ({p.tables()[0]:,} objects)",
                    _mib(med("s3", count, phase, lambda x: x.tables()[1])), "MiB",
                    f"local Parquet ({local.tables()[0]:,} files)",
                    _mib(med("local", count, phase, lambda x: x.tables()[1]))),
                Row(f"{label}, {phase}: Delta commits", med("s3", count, phase,
                    lambda x: x.commits), ""),
            ]  # fmt: skip
            if p.vacuum is not None:
                swept = Counter(r.kind for r in p.vacuum)
                seconds = med("s3", count, phase, lambda x: x.vacuum_wall)
                section.rows.append(Row(
                    f"{label}, {phase}: of which the vacuum, requests "
                    f"({', '.join(f'{k} {n:,}' for k, n in swept.items())}; {seconds:.1f} s)",
                    med("s3", count, phase, lambda x: len(x.vacuum or ())), ""))  # fmt: skip
            areas = ", ".join(f"{a} {n:,}" for a, n in p.areas().most_common())
            uploads = ", ".join(f"{a} {n:,} ({_mib(b):.2f} MiB)"
                                for a, (n, b) in sorted(p.written.items()))  # fmt: skip
            tables = p.log_commits()
            failed = Counter(f"{r.kind} {r.status}" for r in p.requests if r.status >= 300)
            swept_note = " (with the vacuum)" if p.vacuum is not None else ""
            section.notes.append(
                f"{label}, {phase}{swept_note}: requests by "
                f"area: {areas}; objects written: {uploads}; commits to {len(tables)} tables, "
                f"most {', '.join(f'{t} {n}' for t, n in tables.most_common(4))}; answers not "
                f"2xx: {', '.join(f'{k} x{n}' for k, n in failed.most_common()) or 'none'}"
            )
    return section
