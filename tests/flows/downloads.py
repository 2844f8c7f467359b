"""CSV reports downloaded from the sandbox the way a user would: request, poll, fetch."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from extractors.reports import EXPORTS, INCLUDE_ALL


def download_report(client: httpx.Client, time_from: str, time_to: str, path: Path) -> Path:
    """Request the report of ``time_from`` to ``time_to``, wait for its link, save it."""
    period = {"dataIncluded": INCLUDE_ALL, "timeFrom": time_from, "timeTo": time_to}
    report_id = client.post(EXPORTS, json=period).json()["reportId"]
    link = None
    while link is None:
        listing = client.get(EXPORTS)
        if listing.status_code == 200:
            (entry,) = [r for r in listing.json() if r["reportId"] == report_id]
            link = entry.get("downloadLink")
        if link is None:
            time.sleep(0.01)
    path.write_bytes(httpx.get(link).content)
    return path
