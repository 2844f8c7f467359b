"""The local side: landed pages to committed DuckDB tables and published Parquet, and references.

Each load runs in a fresh process (``python -m benchmarks.local WORKER ...``) so its peak
memory is its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from benchmarks import ceiling, dltload, rawpages
from benchmarks.results import Row, Section, median, peak_mib
from extractors.resources import RESOURCES
from flows.pipeline.rebuild import replay_run
from warehouse import Warehouse, raw

ROOT = Path(__file__).resolve().parents[1]
LOADS = ("insert", "update")  # the first landed run inserts, the second changes every row


def write_data(data_dir: Path, rows: int, instruments: int) -> None:
    """Land two runs of the same keys; fsync is skipped, only the load is measured."""
    with mock.patch("os.fsync"):
        rawpages.write_raw_zone(data_dir, rows, instruments, runs=2)


def run_ids(data_dir: Path) -> list[str]:
    """The landed run ids, oldest first."""
    return sorted({run.run_id for run in raw.iter_runs(data_dir)})


def page_files(data_dir: Path, run_id: str) -> dict[str, list[str]]:
    """Page files per resource of one landed run."""
    found = {}
    for run in raw.iter_runs(data_dir):
        if run.run_id == run_id:
            found[run.resource] = sorted(str(p) for p in run.path.glob("page-*.json.gz"))
    return found


def load_t212(data_dir: Path, run_id: str) -> None:
    """Replay one landed run as ``rebuild`` does, then publish Parquet and the database."""
    with Warehouse.open(data_dir) as wh:
        for run in raw.iter_runs(data_dir):
            if run.run_id != run_id:
                continue
            replay_run(wh, RESOURCES[run.resource], run)
        wh.publish()


def clean_t212(data_dir: Path) -> None:
    """Remove the warehouse and Parquet of a previous measurement, keep the raw zone."""
    shutil.rmtree(data_dir / ".work", ignore_errors=True)
    shutil.rmtree(data_dir / "parquet", ignore_errors=True)
    (data_dir / "warehouse.duckdb").unlink(missing_ok=True)


def worker(kind: str, data_dir: Path, run_id: str, fresh: bool, work: Path) -> None:
    """One load in this process; prints seconds and peak memory as JSON."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if kind == "t212":
        load_t212(data_dir, run_id)
    elif kind == "duckdb":
        ceiling.load(work / "ceiling.duckdb", page_files(data_dir, run_id), run_id, fresh=fresh)
    else:
        dltload.load(work / "dlt", page_files(data_dir, run_id), run_id, fresh=fresh)
    seconds = time.perf_counter() - started
    peak = peak_mib() * 2**20
    print(json.dumps({"seconds": seconds, "peak_bytes": peak}))


def measure(kind: str, data_dir: Path, work: Path) -> list[dict]:
    """The insert load then the update load of ``kind``, each in a fresh process."""
    if kind == "t212":
        clean_t212(data_dir)
    out = []
    for number, run_id in enumerate(run_ids(data_dir)):
        args = [sys.executable, "-m", "benchmarks.local", kind, str(data_dir), run_id,
                str(int(number == 0)), str(work)]  # fmt: skip
        done = subprocess.run(args, capture_output=True, text=True, env=os.environ, cwd=ROOT)
        if done.returncode:
            raise RuntimeError(f"{kind} load failed:\n{done.stderr[-3000:]}")
        out.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


def _section(rows: int, instruments: int, dlt_rows: int, runs: int) -> Section:
    about = (
        f"{rows:,} dividends and {rows:,} orders with their fills and taxes, plus {instruments:,} "
        "instruments, landed as raw pages of 50 items (gzip), loaded as `rebuild` loads them: "
        "read a column at a time by Arrow's JSON reader (decimals exact from the JSON text), "
        "normalised from the same declarations as the record-by-record path, merged into "
        "DuckDB in chunks of 1,000 pages in one transaction per resource, Parquet published, "
        "the database published. `insert` "
        "loads into an empty warehouse, `update` then loads the same keys with every row "
        "changed. Rows are source items (dividends + orders + instruments). Reference (a): "
        "DuckDB reads the same pages (`read_json_objects` + `from_json` with exact "
        "`DECIMAL(38,10)`) and `MERGE`s them on the same keys in one transaction. Reference "
        "(b): a dlt pipeline (`write_disposition='merge'`, same primary keys) into DuckDB."
    )
    return Section("Local: raw pages to DuckDB and Parquet", about)


def run(*, smoke: bool, runs: int, rows: int | None = None, dlt_rows: int = 100_000) -> Section:
    """Every local benchmark: ours and the references, insert and update loads."""
    rows = rows or (1000 if smoke else 1_000_000)
    instruments = 200 if smoke else 16_000
    dlt_rows = min(dlt_rows, rows)  # 0 leaves the dlt reference out
    section = _section(rows, instruments, dlt_rows, runs)
    with tempfile.TemporaryDirectory(prefix="t212-bench-") as tmp:
        data_dir, work = Path(tmp) / "data", Path(tmp) / "work"
        write_data(data_dir, rows, instruments)
        ours = [measure("t212", data_dir, work) for _ in range(runs)]
        ceil = [measure("duckdb", data_dir, work) for _ in range(runs)]
        dlt = None
        if dlt_rows > 0 and dltload.available():
            small = Path(tmp) / "small"
            write_data(small, dlt_rows, instruments)
            dlt = measure("dlt", small, work)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(work)
    total = 2 * rows + instruments
    for index, load in enumerate(LOADS):
        ours_s = median([r[index]["seconds"] for r in ours])
        ceil_s = median([r[index]["seconds"] for r in ceil])
        peak = max(r[index]["peak_bytes"] for r in ours) / 2**20
        rate = total / ours_s
        section.rows += [
            Row(f"{load}: rows per second", rate, "rows/s", "(a) DuckDB read_json + MERGE",
                total / ceil_s, "ratio >= 0.5 (within 2x)", rate >= 0.5 * total / ceil_s),
            Row(f"{load}: peak memory", peak, "MiB", "(a) peak memory",
                max(r[index]["peak_bytes"] for r in ceil) / 2**20, "< 1024 MiB", peak < 1024),
        ]  # fmt: skip
        if dlt is not None:
            dlt_rate = (2 * dlt_rows + instruments) / dlt[index]["seconds"]
            section.rows.append(
                Row(f"{load}: rows per second vs dlt", rate, "rows/s", "(b) dlt merge into DuckDB",
                    dlt_rate, "ratio >= 10", rate >= 10 * dlt_rate)
            )  # fmt: skip
    if dlt is None:
        section.notes.append(
            "(b) left out: dlt is not installed (`pip install -e '.[bench]'`) or `--dlt-rows 0`."
        )
    elif dlt_rows < rows:
        section.notes.append(
            f"(b) is measured on {dlt_rows:,} dividends and {dlt_rows:,} orders (one run): at "
            "its rate the full size would take about a quarter of an hour per load; its rate "
            "barely depends on the size."
        )
    section.notes.append(
        f"t212-etl load times: {[[round(x['seconds'], 1) for x in r] for r in ours]} s"
    )
    return section


if __name__ == "__main__":
    kind, data, run_id, fresh, work_dir = sys.argv[1:6]
    worker(kind, Path(data), run_id, fresh == "1", Path(work_dir))
