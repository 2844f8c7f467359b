"""CSV reports through the sandbox over sockets: request, poll, download, load, reconcile."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from extractors.reports import EXPORTS, INCLUDE_ALL
from flows.pipeline.account import select_resources
from flows.pipeline.context import ReportOptions
from flows.pipeline.rebuild import rebuild
from flows.pipeline.run import RunOptions, RunSummary, run_export
from flows.pipeline.settings import SettingsError, load_settings
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, Sandbox
from sandbox.csvreport import report_rows
from tests.flows.harness import (
    FAST_RETRY,
    db_contents,
    export,
    sandbox_config,
    scalar,
    settings_for,
)
from warehouse import raw

NOW = datetime.now(UTC).replace(microsecond=0)
SCALE = 0.0005
ACC = [DEMO_ACCOUNT_ID]


class Recorder(httpx.HTTPTransport):
    """A real socket transport that remembers every request it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[float, httpx.Request]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((time.monotonic(), request))
        return super().handle_request(request)


def years_of(sb: Sandbox) -> list[int]:
    book = sb.books[DEMO_ACCOUNT_ID]
    first = min(s.time_ms(0) for s in (book.dividends, book.orders, book.transactions))
    return list(range(datetime.fromtimestamp(first / 1000, UTC).year, NOW.year + 1))


def csv_rows(sb: Sandbox) -> list[dict]:
    book = sb.books[DEMO_ACCOUNT_ID]
    return report_rows(0, book.now_ms, INCLUDE_ALL, book)


def run(settings, api: Recorder, options: ReportOptions) -> RunSummary:
    """A run with reports whose API and download requests are recorded."""
    return run_export(
        settings,
        RunOptions(
            with_reports=True,
            client_options={"retry": FAST_RETRY, "transport": api},
            ctx_options={"reports": options},
        ),
    )


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """One run with reports into a fresh warehouse; the sandbox keeps running."""
    data_dir = tmp_path_factory.mktemp("reports")
    api, download = Recorder(), Recorder()
    options = ReportOptions(download_transport=download)
    # a report takes longer than a poll period, so the list is polled several times
    with Sandbox(sandbox_config(now=NOW, time_scale=SCALE, report_seconds=150)) as sb:
        settings = settings_for(sb, data_dir)
        summary = run(settings, api, options)
        yield sb, settings, summary, api, download, options


def test_every_year_is_requested_polled_downloaded_and_loaded(reported):
    sb, settings, summary, api, _, _ = reported
    assert summary.exit_code == 0, summary.errors()
    d = settings.data_dir
    assert scalar(d, "SELECT count(*) FROM activity") == len(csv_rows(sb))
    posts = [r for _, r in api.sent if r.method == "POST"]
    assert len(posts) == len(years_of(sb)) >= 3
    bodies = sorted(r.content for r in posts)
    assert all(b'"timeFrom"' in b and b"includeInterest" in b for b in bodies)
    cursor = json.loads(scalar(d, "SELECT cursor FROM load_state WHERE resource = 'reports'"))
    assert cursor["years"] == years_of(sb)[:-1]
    assert [datetime.fromisoformat(p["from"]).year for p in cursor["periods"]] == years_of(sb)
    runs = list(raw.iter_runs(d, resource="reports"))
    assert len(runs) == 1
    pages = list(raw.iter_pages(runs[0]))
    assert len(pages) == len(posts) and all(p.body.startswith(b"\xef\xbb\xbf") for p in pages)
    assert all("reportId=" in p.request_path and "_sandbox" not in p.request_path for p in pages)


def test_export_endpoints_are_never_over_their_limit(reported):
    _, settings, _, api, _, _ = reported
    times = {"POST": [], "GET": []}
    for at, request in api.sent:
        if request.url.path == EXPORTS:
            times[request.method].append(at)
    # one POST per year; how many polls it takes depends on how fast reports finish
    assert len(times["POST"]) >= 3 and len(times["GET"]) >= 1
    for method, period in (("POST", 30), ("GET", 60)):
        gaps = [b - a for a, b in zip(times[method], times[method][1:], strict=False)]
        assert all(gap >= period * SCALE * 0.9 for gap in gaps), (method, gaps)
    row = "SELECT rate_limited FROM run_resources WHERE resource = 'reports'"
    assert scalar(settings.data_dir, row) == 0
    assert scalar(settings.data_dir, "SELECT sum(rate_limited) FROM runs") == 0


def test_no_credential_goes_to_the_download_link(reported):
    _, settings, _, api, download, _ = reported
    assert download.sent, "nothing was downloaded"
    for _, request in download.sent:
        assert request.url.path.startswith("/_sandbox/reports/")
        assert "authorization" not in {k.lower() for k in request.headers}
        sent = str(request.url) + str(dict(request.headers))
        assert DEMO_KEY not in sent and DEMO_SECRET not in sent
    api_auth = [r for _, r in api.sent if "authorization" in r.headers]
    assert api_auth and all(r.url.path.startswith("/api/") for r in api_auth)
    for path in settings.data_dir.rglob("*"):
        if path.is_file() and path.suffix != ".gz":
            data = path.read_bytes()
            assert DEMO_KEY.encode() not in data and DEMO_SECRET.encode() not in data


def test_reports_reconcile_exactly_with_the_json_history(reported):
    sb, settings, _, _, _, _ = reported
    d, book = settings.data_dir, sb.books[DEMO_ACCOUNT_ID]
    assert scalar(d, "SELECT count(*) FROM reconciliation_differences") == 0
    withheld = sum(
        (book.dividends.withholding(book.dividends.item(i)) for i in range(book.dividends.count)),
        Decimal(0),
    )
    gross = scalar(d, "SELECT sum(gross_amount) FROM dividends_monthly")
    net = scalar(d, "SELECT sum(net_amount) FROM dividends_monthly")
    tax = scalar(d, "SELECT sum(withholding_tax) FROM dividends_monthly")
    assert tax == withheld > 0
    assert net == sb.truth(DEMO_ACCOUNT_ID)["dividends"]["amount"] and gross == net + tax
    assert scalar(d, "SELECT sum(payments) - sum(payments_in_reports) FROM dividends_monthly") == 0
    interest = sum(
        (
            item["amount"]
            for kind, item in map(book.transactions.detailed, range(book.transactions.count))
            if kind == "interest"
        ),
        Decimal(0),
    )
    cash = "SELECT sum(amount) FROM cash_activity_monthly WHERE kind = ?"
    assert scalar(d, cash, ["interest"]) == interest > 0
    stamp = "SELECT -sum(quantity) FROM fill_taxes WHERE name = ?"
    assert scalar(d, cash, ["stamp_duty"]) == scalar(d, stamp, ["STAMP_DUTY_RESERVE_TAX"]) > 0
    fees = scalar(d, stamp, ["CURRENCY_CONVERSION_FEE"])
    assert scalar(d, cash, ["currency_conversion_fee"]) == fees > 0


def test_reports_classify_every_transaction_exactly(reported):
    sb, settings, _, _, _, _ = reported
    book = sb.books[DEMO_ACCOUNT_ID]
    truth = {
        item["reference"]: kind
        for kind, item in map(book.transactions.detailed, range(book.transactions.count))
    }
    rows = db_contents(settings.data_dir, "cash_transactions")
    classified = {r[1]: (r[6], r[7]) for r in rows if r[0] == DEMO_ACCOUNT_ID}
    assert classified.keys() == truth.keys()
    for reference, kind in truth.items():
        assert classified[reference] == (kind, "report"), reference
    # interest the size of a real deposit, or a small real deposit, is told apart exactly
    assert {k for k, _ in classified.values()} >= {"interest", "deposit", "withdrawal", "fee"}


def test_a_changed_row_shows_as_a_difference(reported, tmp_path):
    _, settings, _, _, _, _ = reported
    import duckdb

    copy = tmp_path / "copy.duckdb"
    copy.write_bytes((settings.data_dir / "warehouse.duckdb").read_bytes())
    con = duckdb.connect(str(copy))
    con.execute(
        "UPDATE activity SET total = total + 0.01 WHERE id = (SELECT min(activity_id) "
        "FROM dividend_reconciliation WHERE activity_id IS NOT NULL)"
    )
    con.execute("DELETE FROM activity WHERE id = (SELECT min(id) FROM activity WHERE order_id > 0)")
    found = con.execute(
        "SELECT source, field, report_value - api_value FROM reconciliation_differences ORDER BY 1"
    ).fetchall()
    con.close()
    assert found == [("dividend", "amount", Decimal("0.01")), ("order", "row", None)]


@pytest.mark.slow  # exports and a rebuild
def test_next_run_requests_only_the_current_year_and_rebuild_replays(reported):
    sb, settings, _, api, _, options = reported
    before = db_contents(settings.data_dir, "activity")
    sb.advance(2)
    api.sent.clear()
    summary = run(settings, api, options)
    assert summary.exit_code == 0, summary.errors()
    posts = [r for _, r in api.sent if r.method == "POST"]
    assert len(posts) == 1 and f'"{NOW.year}-01-01T00:00:00Z"'.encode() in posts[0].content
    after = db_contents(settings.data_dir, "activity")
    assert len(after) == len(csv_rows(sb)) > len(before)
    rebuild(settings.data_dir)
    assert db_contents(settings.data_dir, "activity") == after
    assert scalar(settings.data_dir, "SELECT count(*) FROM reconciliation_differences") == 0


@pytest.mark.slow  # two exports a case
@pytest.mark.parametrize("status", ["Failed", "Canceled"])
def test_a_failed_report_fails_the_resource_and_is_retried_next_run(tmp_path: Path, status):
    with Sandbox(sandbox_config(now=NOW, time_scale=SCALE)) as sb:
        settings = settings_for(sb, tmp_path)
        sb.desk.fail_next(status)
        first = export(settings, only=["dividends", "reports"])
        assert first.exit_code == 1
        (error,) = first.errors()
        assert "reports" in error and status in error and "next run" in error
        assert scalar(tmp_path, "SELECT count(*) FROM activity") == 0
        assert not list(raw.iter_runs(tmp_path, resource="reports"))
        second = export(settings, only=["reports"])
        assert second.exit_code == 0, second.errors()
        assert scalar(tmp_path, "SELECT count(*) FROM activity") == len(csv_rows(sb))


def test_the_setting_makes_reports_the_default(tmp_path: Path):
    config = tmp_path / "t212-etl.toml"
    config.write_text("[export]\nwith_reports = true\nreports_start_year = 2020\n")
    settings = load_settings(config=config, environ={"T212_API_KEY": "k"}, cwd=tmp_path)
    assert settings.with_reports and settings.reports_start_year == 2020
    assert select_resources(None, settings.with_reports)[-1] == "reports"
    assert "reports" not in select_resources(None)
    assert select_resources(["dividends"], True) == ["dividends", "reports"]
    config.write_text('[export]\nwith_reports = "yes"\n')
    with pytest.raises(SettingsError, match="with_reports must be true or false"):
        load_settings(config=config, environ={}, cwd=tmp_path)
