"""The cost of publishing the warehouse in the DuckDB 1.x storage format: a copy of the working
file's bytes, against the copy table by table that a working file in the newest format needs."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from benchmarks.results import Row, Section, median
from warehouse import Warehouse
from warehouse.memory import MEMORY_LIMIT
from warehouse.published import STORAGE_VERSION

# rows per history table: a busy account (150,000 dividends, 60,000 orders, 40,000
# transactions) and four times that, as bigaccount.py sizes them
SIZES = {
    "busy account": {"dividends": 150_000, "orders": 60_000, "transactions": 40_000},
    "4x busy account": {"dividends": 600_000, "orders": 240_000, "transactions": 160_000},
}
SMOKE = {"smoke": {"dividends": 2_000, "orders": 1_000, "transactions": 500}}
_MEASURE = """
import sys, time
from pathlib import Path
from benchmarks.results import peak_mib
from warehouse.published import write_published
work, target, how = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
started = time.perf_counter()
write_published(work, target, sys.argv[4], as_is=how == "copy")
print(time.perf_counter() - started, peak_mib())
"""


# every column filled with values as varied as real ones (hashes, not repeating
# patterns), so the file is as large and compresses as a real one does
_INSERTS = {
    "dividends": "SELECT 1, md5(i::VARCHAR), 'T' || (hash(i) % 3000) || '_US_EQ', 'ORDINARY', "
    "now() - to_seconds(i * 61 + hash(i) % 60), (hash(i, 1) % 100000000) / 10000, "
    "(hash(i, 2) % 1000000) / 100, (hash(i, 3) % 1000000) / 100, 'EUR', "
    "(hash(i, 4) % 100000) / 10000, 'USD', 'Instrument ' || (hash(i) % 3000), "
    "'US' || (10000000000 + hash(i) % 3000), 'USD', now(), md5((i // 1000)::VARCHAR)",
    "orders": "SELECT 1, 10000000000 + i * 7 + hash(i) % 7, 'T' || (hash(i) % 3000) || '_US_EQ', "
    "'MARKET', CASE WHEN hash(i, 5) % 3 = 0 THEN 'SELL' ELSE 'BUY' END, 'FILLED', 'QUANTITY', "
    "'AUTOINVEST', 'DAY', false, now() - to_seconds(i * 61 + hash(i) % 60), 'EUR', "
    "(hash(i, 1) % 100000000) / 10000, (hash(i, 1) % 100000000) / 10000, "
    "(hash(i, 2) % 10000000) / 100, (hash(i, 2) % 10000000) / 100, NULL, NULL, "
    "'Instrument ' || (hash(i) % 3000), 'US' || (10000000000 + hash(i) % 3000), 'USD', now(), "
    "md5((i // 1000)::VARCHAR)",
    "transactions": "SELECT 1, md5(i::VARCHAR), 'DEPOSIT', now() - to_seconds(i * 61), "
    "(hash(i, 2) % 10000000) / 100, 'EUR', now(), md5((i // 1000)::VARCHAR)",
}


def fill(data_dir: Path, counts: dict[str, int]) -> Path:
    """A working database with the catalogue's tables and ``counts`` synthetic rows; its path."""
    with Warehouse.open(data_dir) as wh:
        work = wh.work_db
    con = duckdb.connect(str(work))
    try:
        for table, rows in counts.items():
            con.execute(f"INSERT INTO {table} {_INSERTS[table]} FROM range({rows}) t(i)")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return work


def measure(work: Path, how: str) -> tuple[float, float]:
    """Seconds and peak MiB of one publication in a fresh process."""
    target = work.parent.parent / f"published-{how}.duckdb"
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(work), str(target), how, MEMORY_LIMIT],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak = done.stdout.split()
    target.unlink()
    return float(seconds), float(peak)


def run(*, smoke: bool, runs: int) -> Section:
    """The byte copy against the copy table by table, per warehouse size."""
    section = Section(
        "Publishing in the DuckDB 1.x format",
        f"After every run the working database, kept in storage version {STORAGE_VERSION} so "
        f"DuckDB 1.x readers open it, is copied byte for byte to `warehouse.duckdb`. The "
        f"reference is the copy table by table (`COPY FROM DATABASE` into a database attached "
        f"with that version) that every run made before, and that a working database in the "
        f"newest format still gets once. Each publication in a fresh process, DuckDB held to "
        f"{MEMORY_LIMIT}.",
    )
    for name, counts in (SMOKE if smoke else SIZES).items():
        rows = sum(counts.values())
        with tempfile.TemporaryDirectory(prefix="t212-publish-") as tmp:
            work = fill(Path(tmp) / "data", counts)
            size = work.stat().st_size / 2**20
            copy = [measure(work, "copy") for _ in range(runs)]
            older = [measure(work, "older") for _ in range(runs)]
        by_table = median([s for s, _ in older])
        section.rows += [
            Row(f"{name} ({rows:,} rows, {size:.0f} MiB): publish", median([s for s, _ in copy]),
                "s", "copy table by table", by_table),
            Row(f"{name}: publish, peak memory", median([m for _, m in copy]), "MiB",
                "copy table by table", median([m for _, m in older]), target="< 1 GiB",
                met=max(m for _, m in copy + older) < 1024),
        ]  # fmt: skip
    return section
