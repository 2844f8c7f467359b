"""Report requests against scripted answers: ids, lost answers, links, and what errors quote."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import pytest

from extractors.client import RetryPolicy, T212Client
from extractors.errors import MalformedResponse, T212Error
from extractors.reports import EXPORTS, INCLUDE_ALL, Downloader, Period, fetch_reports
from tests.extractors.fakes import Script, fake_client, json_response

KEY, SECRET = "reportkey-7Hq2Lw9x", "reportsecret-3Vb8Nm1z"
TOKEN = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
YEAR = Period(2024, datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))


def make_client(script: Script) -> T212Client:
    return fake_client(
        script,
        credentials=(KEY, SECRET),
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
    script = Script(json_response([]), json_response({"reportId": 7}), json_response([entry]))
    refused = httpx.MockTransport(lambda request: httpx.Response(403))
    client, downloader = make_client(script), Downloader(refused)
    with client, downloader, pytest.raises(T212Error) as err:
        list(fetch_reports(client, [YEAR], downloader))
    assert "HTTP 403" in str(err.value)
    assert_clean(str(err.value))


def entry(report_id: int, period: Period = YEAR, status: str = "Finished") -> dict:
    """A ReportResponse as the list gives it (times with milliseconds, as the API writes)."""
    return {
        "reportId": report_id,
        "timeFrom": period.time_from.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "timeTo": period.time_to.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "dataIncluded": dict(INCLUDE_ALL),
        "status": status,
        "downloadLink": f"https://files.example/{report_id}.csv?signature=x",
    }


def csv_files() -> Downloader:
    return Downloader(httpx.MockTransport(lambda request: httpx.Response(200, text="a,b\n")))


def sent(script: Script) -> list[str]:
    return [r.method for r in script.requests if r.url.path == EXPORTS]


def test_a_post_that_never_reached_the_server_is_sent_again():
    script = Script(
        json_response([]),  # the list before
        httpx.Response(502),  # a proxy's answer: the server saw nothing
        json_response([]),  # nothing new in the list
        json_response({"reportId": 5}),
        json_response([entry(5)]),
    )
    with make_client(script) as client, csv_files() as downloader:
        pages = list(fetch_reports(client, [YEAR], downloader))
    assert [p.data.source for p in pages] == ["report 5 of 2024"]
    assert sent(script) == ["GET", "POST", "GET", "POST", "GET"]


def test_a_report_of_the_same_range_from_before_is_not_taken_for_the_lost_one():
    other = Period(2023, datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
    partial = dict(entry(4), dataIncluded={**INCLUDE_ALL, "includeInterest": False})
    script = Script(
        json_response([entry(3)]),  # a report of 2024 from an earlier run
        httpx.Response(503),
        json_response([entry(3), entry(4, other), partial]),  # none is the one just asked for
        json_response({"reportId": 9}),
        json_response([entry(9), entry(3)]),
    )
    with make_client(script) as client, csv_files() as downloader:
        pages = list(fetch_reports(client, [YEAR], downloader))
    assert [p.data.source for p in pages] == ["report 9 of 2024"]
    assert sent(script).count("POST") == 2


def test_a_lost_answer_is_found_in_the_list_and_not_requested_again():
    script = Script(
        json_response([entry(3)]),
        httpx.Response(502),
        json_response([entry(8, status="Queued"), entry(3)]),  # made by the lost request
        json_response([entry(8), entry(3)]),
    )
    with make_client(script) as client, csv_files() as downloader:
        pages = list(fetch_reports(client, [YEAR], downloader))
    assert [p.data.source for p in pages] == ["report 8 of 2024"]
    assert sent(script) == ["GET", "POST", "GET", "GET"]


def test_a_refused_post_is_not_looked_for():
    script = Script(
        json_response([]),
        json_response({"code": "TooManyRequests"}, 429),
        json_response({"reportId": 5}),
        json_response([entry(5)]),
    )
    with make_client(script) as client, csv_files() as downloader:
        list(fetch_reports(client, [YEAR], downloader))
    assert sent(script) == ["GET", "POST", "POST", "GET"]
