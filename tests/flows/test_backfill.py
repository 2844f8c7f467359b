"""A 90-day API horizon: `run` alone stops there; `run --backfill-reports` reaches the truth."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.app.status import status_report
from flows.pipeline.backfill import covered, missing_years
from flows.pipeline.context import ReportOptions
from flows.pipeline.rebuild import rebuild
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, Sandbox
from tests.flows.harness import export, run_cli, sandbox_config, scalar, settings_for
from tests.flows.test_reports import Recorder
from warehouse import connect_readonly

NOW = datetime.now(UTC).replace(microsecond=0)
DAYS = 90
RESOURCES = ("dividends", "orders", "transactions")
_ITEMS = """
    SELECT resource, count(*), sum(amount) FROM history_items
    WHERE account_id = ? GROUP BY ALL ORDER BY ALL
"""


def horizon_sandbox() -> Sandbox:
    config = sandbox_config(now=NOW)
    account = dataclasses.replace(config.accounts[0], history_days=DAYS)
    return Sandbox(dataclasses.replace(config, accounts=(account,)))


def truth(sb: Sandbox) -> dict[str, tuple[int, Decimal]]:
    """Per resource, items and their amounts as the sandbox generated them (fills for orders)."""
    book = sb.books[DEMO_ACCOUNT_ID]
    fills = [book.orders.item(i)["fill"] for i in range(book.orders.count)]
    fills = [f["walletImpact"]["netValue"] for f in fills if f is not None]
    out = {"orders": (len(fills), sum(fills, Decimal(0)))}
    for name in ("dividends", "transactions"):
        series = getattr(book, name)
        amounts = [series.item(i)["amount"] for i in range(series.count)]
        out[name] = (len(amounts), sum(amounts, Decimal(0)))
    return out


def items(data_dir) -> dict[str, tuple[int, Decimal]]:
    """Per resource, items and amounts of ``history_items`` (each event once, either source)."""
    con = connect_readonly(data_dir)
    try:
        rows = con.execute(_ITEMS, [DEMO_ACCOUNT_ID]).fetchall()
    finally:
        con.close()
    return {r: (n, total) for r, n, total in rows}


def report_periods(sb: Sandbox) -> Counter:
    """How often each period was asked for, by the sandbox's own record of requests."""
    return Counter(r["timeFrom"] for r in sb.desk.listing(DEMO_ACCOUNT_ID, sb.base_url))


def backfill(settings, download: Recorder | None = None):
    options = ReportOptions(backfill=True, download_transport=download)
    return export(settings, backfill_reports=True, ctx_options={"reports": options})


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    """A run, its status, then a backfill and its status, on one horizon account."""
    data_dir = tmp_path_factory.mktemp("horizon")
    with horizon_sandbox() as sb:
        settings = settings_for(sb, data_dir)
        first = export(settings)
        after_run = items(data_dir)
        status_before = status_report(data_dir)
        summary = backfill(settings)
        status_after = status_report(data_dir)
        yield sb, data_dir, first, after_run, status_before, summary, status_after


def test_run_alone_stops_at_the_horizon_and_status_says_what_to_run(backfilled):
    sb, _, first, after_run, (text, attention), _, _ = backfilled
    assert first.exit_code == 0, first.errors()
    expected = truth(sb)
    for name in RESOURCES:
        assert 0 < after_run[name][0] < expected[name][0], name
    lines = [line for line in text.splitlines() if "--backfill-reports" in line]
    assert len(lines) == 1 and attention
    assert f"account {DEMO_ACCOUNT_ID}" in lines[0] and "orders" in lines[0]
    assert "positions opened" in lines[0]


def test_the_backfill_ends_with_the_sandbox_truth_and_status_is_quiet(backfilled):
    sb, data_dir, _, _, _, summary, (text, _) = backfilled
    assert summary.exit_code == 0, summary.errors()
    assert items(data_dir) == truth(sb)
    assert "--backfill-reports" not in text
    # status shows each history's reach: the reports' now, back to the first activity
    reach = [r.split() for r in text.splitlines() if r.startswith("orders ")]
    reach = [r for r in reach if len(r) == 7]  # history, 5 dates, by
    assert len(reach) == 1 and reach[0][-1] == "reports" and reach[0][3] < reach[0][1]
    flagged = scalar(data_dir, "SELECT count(*) FROM history_coverage WHERE needs_backfill")
    assert flagged == 0
    # every period asked for once; the years from the first activity to now are covered
    periods = report_periods(sb)
    assert set(periods.values()) == {1}
    first_year = min(datetime.fromisoformat(p.replace("Z", "+00:00")).year for p in periods)
    book = sb.books[DEMO_ACCOUNT_ID]
    started = min(s.time_ms(0) for s in (book.dividends, book.orders, book.transactions))
    assert first_year == datetime.fromtimestamp(started / 1000, UTC).year - 1  # one empty year


def test_a_killed_backfill_resumes_without_asking_for_a_period_twice(tmp_path):
    data_dir = tmp_path / "data"
    with horizon_sandbox() as sb:
        settings = settings_for(sb, data_dir)
        assert export(settings).exit_code == 0
        env = {"T212_API_KEY": DEMO_KEY, "T212_API_SECRET": DEMO_SECRET}
        env |= {"T212_BASE_URL": sb.base_url, "T212_ETL_CRASH_AT": "backfill.requested:2"}
        code, _, err = run_cli("run", "--backfill-reports", "--data-dir", str(data_dir), env=env)
        assert code == -9, f"the backfill was not killed: {code} {err[-500:]}"
        asked = report_periods(sb)
        assert sum(asked.values()) == 2  # killed right after its second report was asked for
        download = Recorder()
        summary = backfill(settings, download)
        assert summary.exit_code == 0, summary.errors()
        periods = report_periods(sb)
        assert set(periods.values()) == {1} and len(periods) > 2 and asked <= periods
        assert len(download.sent) == len(periods)  # each file fetched once, the two resumed too
        assert items(data_dir) == truth(sb)
        cursor = scalar(data_dir, "SELECT cursor FROM load_state WHERE resource = 'reports'")
        assert '"backfill"' not in cursor  # every request asked for is loaded
        rebuild(data_dir)  # the landed files replay to the same history and periods
        assert items(data_dir) == truth(sb)
        assert scalar(data_dir, "SELECT count(*) FROM history_coverage WHERE needs_backfill") == 0


def test_an_account_whose_api_reaches_back_is_quiet_and_backfills_nothing(tmp_path):
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config(now=NOW)) as sb:
        settings = settings_for(sb, data_dir)
        assert export(settings).exit_code == 0
        text, attention = status_report(data_dir)
        assert "--backfill-reports" not in text and not attention
        assert backfill(settings).exit_code == 0
        assert report_periods(sb) == Counter()  # no report asked for
        assert items(data_dir) == truth(sb)


@hypothesis.settings(max_examples=200, deadline=None)
@given(
    st.datetimes(datetime(2015, 1, 1), datetime(2026, 1, 1), timezones=st.just(UTC)),
    st.integers(0, 3000),
    st.lists(st.tuples(st.integers(2014, 2027), st.integers(0, 400)), max_size=6),
)
def test_the_missing_years_are_exactly_what_closes_the_gap(start, days, loaded):
    end = start + timedelta(days=days)
    periods = [
        (datetime(y, 1, 1, tzinfo=UTC) + timedelta(days=d), datetime(y + 1, 1, 1, tzinfo=UTC))
        for y, d in loaded
    ]
    years = missing_years((start, end), periods)
    whole = [(datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC)) for y in years]
    assert covered(start, end, periods + whole)
    for year in years:  # none of them is asked for in vain
        others = [w for w in whole if w[0].year != year]
        assert not covered(start, end, periods + others)


def test_the_views_that_combine_both_sources_count_every_cash_event_once(backfilled):
    sb, data_dir, *_ = backfilled
    book = sb.books[DEMO_ACCOUNT_ID]
    expected: dict[str, tuple[int, Decimal]] = {}
    for kind, item in map(book.transactions.detailed, range(book.transactions.count)):
        n, total = expected.get(kind, (0, Decimal(0)))
        expected[kind] = (n + 1, total + abs(item["amount"]))
    con = connect_readonly(data_dir)
    try:
        income = con.execute(
            "SELECT kind, count(*), sum(abs(net)) FROM income_items WHERE ticker IS NULL "
            "AND account_id = ? GROUP BY ALL",
            [DEMO_ACCOUNT_ID],
        ).fetchall()
        flows = con.execute(
            "SELECT kind, count(*), sum(abs(amount)) FROM external_flows WHERE account_id = ? "
            "GROUP BY ALL",
            [DEMO_ACCOUNT_ID],
        ).fetchall()
    finally:
        con.close()
    found = {kind: (n, total) for kind, n, total in income + flows}
    assert found == expected
