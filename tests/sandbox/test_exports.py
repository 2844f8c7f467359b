"""CSV exports: request, Queued -> Processing -> Finished, download, the one-year rule."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime

import httpx
import pytest

import sandbox.reports
from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.sandbox.conftest import API, small_config, walk

EXPORTS = f"{API}/history/exports"
ALL = {
    "includeDividends": True,
    "includeInterest": True,
    "includeOrders": True,
    "includeTransactions": True,
}
FROM, TO = "2024-07-01T00:00:00Z", "2025-07-01T00:00:00Z"


# A report takes 600 s of this machine's time: its statuses move only when the test moves
# the report desk's clock, however busy the machine is.
REPORT_SECONDS = 600.0


class Clock:
    """The report desk's clock, ahead of the machine's by ``moved`` seconds."""

    def __init__(self) -> None:
        self.moved = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.moved


@pytest.fixture
def slow_reports() -> Sandbox:
    with Sandbox(small_config(report_seconds=REPORT_SECONDS * 1000, time_scale=0.001)) as sb:
        yield sb


def _list(client: httpx.Client) -> list[dict]:
    for _ in range(50):
        response = client.get(EXPORTS)
        if response.status_code == 200:
            return response.json()
        time.sleep(0.02)
    raise AssertionError("exports list stayed limited")


@pytest.mark.parametrize(
    "body",
    [
        {"dataIncluded": ALL, "timeFrom": "2023-01-01T00:00:00Z", "timeTo": "2024-06-01T00:00:00Z"},
        {"dataIncluded": ALL, "timeFrom": TO, "timeTo": FROM},
        {"dataIncluded": ALL, "timeFrom": "soon", "timeTo": TO},
        {"dataIncluded": ALL},
    ],
)
def test_bad_report_requests_answer_400(client: httpx.Client, body: dict) -> None:
    response = client.post(EXPORTS, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "BadFilteringArguments"


def test_more_than_a_year_is_refused_with_a_message(client: httpx.Client) -> None:
    body = {"dataIncluded": ALL, "timeFrom": "2024-01-01T00:00:00Z", "timeTo": TO}
    assert "one year" in client.post(EXPORTS, json=body).json()["message"]


def test_report_moves_through_statuses_and_downloads(slow_reports: Sandbox, monkeypatch) -> None:
    sb = slow_reports
    clock = Clock()
    monkeypatch.setattr(sandbox.reports, "time", clock)
    with httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client:
        posted = client.post(EXPORTS, json={"dataIncluded": ALL, "timeFrom": FROM, "timeTo": TO})
        assert posted.status_code == 200
        report_id = posted.json()["reportId"]
        seen = []
        for moved in (0.0, REPORT_SECONDS / 2, REPORT_SECONDS):
            clock.moved = moved
            (report,) = _list(client)
            seen.append(report["status"])
        assert seen == ["Queued", "Processing", "Finished"]
        assert report["reportId"] == report_id
        assert report["dataIncluded"] == ALL
        assert report["timeFrom"].startswith("2024-07-01T00:00:00")
        download = httpx.get(report["downloadLink"])  # no auth header, like the real link
        assert download.status_code == 200
        content = download.content
        assert content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
        dividends = [i for p in walk(client, f"{API}/history/dividends?limit=50") for i in p]
    start, end = datetime.fromisoformat(FROM), datetime.fromisoformat(TO)
    in_range = [d for d in dividends if start <= datetime.fromisoformat(d["paidOn"]) <= end]
    dividend_rows = [r for r in rows if r["Action"].startswith("Dividend (")]
    assert len(dividend_rows) == len(in_range) > 0
    assert {"Time (UTC)", "Withholding tax", "Currency (Total)"} <= set(rows[0])
    assert "Time" not in rows[0]
    actions = {r["Action"] for r in rows}
    assert {"Market buy", "Interest on cash", "Deposit"} <= actions
    times = [r["Time (UTC)"] for r in rows]
    assert times == sorted(times)


def test_unfinished_report_is_not_downloadable(slow_reports: Sandbox) -> None:
    sb = slow_reports
    with httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client:
        body = {"dataIncluded": {"includeDividends": True}, "timeFrom": FROM, "timeTo": TO}
        report_id = client.post(EXPORTS, json=body).json()["reportId"]
        assert httpx.get(f"{sb.base_url}/_sandbox/reports/{report_id}.csv").status_code == 404


def test_report_columns_follow_what_is_included() -> None:
    with (
        Sandbox(small_config(report_seconds=0.0)) as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET)) as client,
    ):
        body = {"dataIncluded": {"includeInterest": True}, "timeFrom": FROM, "timeTo": TO}
        client.post(EXPORTS, json=body)
        (report,) = _list(client)
        text = httpx.get(report["downloadLink"]).content.decode("utf-8-sig")
    header, *lines = text.splitlines()
    assert header == "Action,Time (UTC),ID,Total,Currency (Total)"
    assert lines and all(line.startswith("Interest on cash,") for line in lines)
