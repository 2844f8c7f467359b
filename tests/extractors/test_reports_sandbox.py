"""Report requests over sockets: a POST whose answer is lost creates one report, not two."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from extractors.auth import Credentials
from extractors.client import ClientOptions, RetryPolicy, T212Client
from extractors.reports import EXPORTS, Downloader, Period, fetch_reports
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, Sandbox
from tests.sandbox.conftest import small_config

PERIODS = [
    Period(year, datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    for year in (2023, 2024)
]
# the documented limits at the sandbox's scale (60 s -> 60 ms), so nothing waits long
LIMITS = {f"GET {EXPORTS}": (1, 0.06), f"POST {EXPORTS}": (1, 0.03)}


class Recorder(httpx.HTTPTransport):
    """A real socket transport that remembers the method of every request it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.methods: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.methods.append(request.method)
        return super().handle_request(request)


@pytest.mark.parametrize("fault", ["502", "503", "reset", "slow", "malformed"])
def test_a_lost_post_answer_creates_one_report_not_two(fault):
    # 'slow' answers after 2 s, past the client's 0.3 s: the server made the report meanwhile
    config = small_config(time_scale=0.001, report_seconds=50, slow_seconds=2000)
    with Sandbox(config) as sb:
        sb.inject(fault, path=EXPORTS, method="POST", after=1)  # the second year's request
        sent = Recorder()
        client = T212Client(
            Credentials(DEMO_KEY, DEMO_SECRET),
            base_url=sb.base_url,
            options=ClientOptions(
                transport=sent,
                retry=RetryPolicy(max_attempts=3, backoff_base=0.01),
                limits=LIMITS,
                total_timeout=0.3,
            ),
        )
        with client, Downloader() as downloader:
            pages = list(fetch_reports(client, PERIODS, downloader))
        reports = sb.desk.listing(DEMO_ACCOUNT_ID, sb.base_url)
    assert sorted(p.data.period.year for p in pages) == [2023, 2024]
    assert len(reports) == 2  # one per year: the lost answer was found in the list
    assert {r["timeFrom"][:4] for r in reports} == {"2023", "2024"}
    assert sent.methods.count("POST") == 2  # the lost one was not sent again


def test_a_post_refused_with_429_is_sent_again_and_still_makes_one_report():
    with Sandbox(small_config(time_scale=0.001, report_seconds=50)) as sb:
        sb.inject("429", path=EXPORTS, method="POST")
        client = T212Client(
            Credentials(DEMO_KEY, DEMO_SECRET),
            base_url=sb.base_url,
            options=ClientOptions(limits=LIMITS),
        )
        with client, Downloader() as downloader:
            pages = list(fetch_reports(client, PERIODS[:1], downloader))
        reports = sb.desk.listing(DEMO_ACCOUNT_ID, sb.base_url)
    assert len(pages) == len(reports) == 1
    assert client.stats[EXPORTS].rate_limited == 1
