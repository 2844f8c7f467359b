"""Report requests against scripted answers: ids, lost answers, links, and what errors quote."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import pytest

from extractors.auth import Credentials
from extractors.client import RetryPolicy, T212Client
from extractors.errors import MalformedResponse, T212Error
from extractors.reports import Downloader, Period, fetch_reports
from tests.extractors.fakes import FakeClock, Script, json_response

KEY, SECRET = "reportkey-7Hq2Lw9x", "reportsecret-3Vb8Nm1z"
TOKEN = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
YEAR = Period(2024, datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))


def make_client(script: Script) -> T212Client:
    clock = FakeClock()
    return T212Client(
        Credentials(KEY, SECRET),
        env="demo",
        transport=script.transport,
        clock=clock,
        sleep=clock.sleep,
        retry=RetryPolicy(max_attempts=2, backoff_base=0),
        random_source=lambda: 0.0,
    )


def assert_clean(message: str) -> None:
    for form in (KEY, SECRET, TOKEN):
        for i in range(len(form) - 7):
            assert form[i : i + 8] not in message, message


def test_a_report_answer_without_an_id_is_malformed_and_quotes_no_credential():
    script = Script(json_response({"echo": f"Authorization: Basic {TOKEN}"}))
    client, downloader = make_client(script), Downloader()
    with client, downloader, pytest.raises(MalformedResponse) as err:
        list(fetch_reports(client, [YEAR], downloader))
    assert "report id" in str(err.value)
    assert_clean(str(err.value))


def test_a_download_link_naming_a_credential_is_not_quoted():
    entry = {"reportId": 7, "status": "Finished", "downloadLink": f"https://{KEY}.example/r.csv"}
    script = Script(json_response({"reportId": 7}), json_response([entry]))
    refused = httpx.MockTransport(lambda request: httpx.Response(403))
    client, downloader = make_client(script), Downloader(refused)
    with client, downloader, pytest.raises(T212Error) as err:
        list(fetch_reports(client, [YEAR], downloader))
    assert "HTTP 403" in str(err.value)
    assert_clean(str(err.value))
