"""The reference a user could write by hand: page the endpoints with httpx, load with DuckDB.

One thread per history endpoint (their limits are separate), every page's items appended
to a newline-delimited JSON file, then DuckDB's ``read_json`` creates one table per
endpoint. No raw zone, no merge, no cursor, no Parquet: the floor of getting the rows in.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import duckdb
import httpx

API = "/api/v0/equity"
HISTORY = ("dividends", "orders", "transactions")


def _walk(base_url: str, auth: tuple[str, str], name: str, out: Path) -> int:
    """Every page of one history endpoint, items appended to ``out``; returns requests."""
    path = f"{API}/history/{name}?limit=50"
    requests = 0
    with httpx.Client(base_url=base_url, auth=auth, timeout=60) as client, out.open("wb") as f:
        while path:
            response = client.get(path)
            response.raise_for_status()
            requests += 1
            page = response.json()
            for item in page["items"]:
                f.write(json.dumps(item).encode() + b"\n")
            path = page.get("nextPagePath")
    return requests


def run_plain(base_url: str, auth: tuple[str, str], workdir: Path) -> dict[str, int]:
    """Fetch the three histories at once and the instrument list, load them into DuckDB.

    Returns the rows per table.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    threads = [
        threading.Thread(target=_walk, args=(base_url, auth, name, workdir / f"{name}.json"))
        for name in HISTORY
    ]
    for thread in threads:
        thread.start()
    with httpx.Client(base_url=base_url, auth=auth, timeout=60) as client:
        instruments = client.get(f"{API}/metadata/instruments")
        instruments.raise_for_status()
        (workdir / "instruments.json").write_bytes(instruments.content)
    for thread in threads:
        thread.join()
    con = duckdb.connect(str(workdir / "plain.duckdb"))
    rows = {}
    for name in (*HISTORY, "instruments"):
        source = str(workdir / f"{name}.json")
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_json('{source}')")
        rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    con.close()
    return rows


def timed_plain(base_url: str, auth: tuple[str, str], workdir: Path) -> tuple[float, dict]:
    """(wall seconds, rows per table) of one reference run."""
    started = time.monotonic()
    rows = run_plain(base_url, auth, workdir)
    return time.monotonic() - started, rows
