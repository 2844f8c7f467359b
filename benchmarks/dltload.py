"""Reference (b): dlt loading the same records into DuckDB with a merge on the same keys.

dlt is optional (the ``bench`` extra); without it this reference is left out.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path


def available() -> bool:
    """Whether dlt is installed."""
    return importlib.util.find_spec("dlt") is not None


def _pages(files: list[str]) -> Iterator[list[dict]]:
    for name in files:
        data = json.loads(gzip.decompress(Path(name).read_bytes()), parse_float=Decimal)
        yield data["items"] if isinstance(data, dict) else data


def load(workdir: Path, pages: dict[str, list[str]], run_id: str, *, fresh: bool) -> None:
    """Run a dlt pipeline over the landed pages: instruments, dividends and orders, merged."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt

    if fresh:
        shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)

    @dlt.resource(name="instruments", write_disposition="merge", primary_key="ticker")
    def instruments():
        yield from _pages(pages["instruments"])

    @dlt.resource(name="dividends", write_disposition="merge", primary_key="reference")
    def dividends():
        yield from _pages(pages["dividends"])

    @dlt.resource(name="orders", write_disposition="merge", primary_key="order_id")
    def orders():
        for page in _pages(pages["orders"]):
            yield [{"order_id": item["order"]["id"], **item} for item in page]

    pipeline = dlt.pipeline(
        pipeline_name="t212_bench",
        destination=dlt.destinations.duckdb(str(workdir / "dlt.duckdb")),
        dataset_name="t212",
        pipelines_dir=str(workdir / "pipelines"),
    )
    pipeline.run([instruments(), dividends(), orders()])
