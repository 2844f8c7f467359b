"""The fault matrix through the sandbox: each fault either loads the exact truth, or fails
cleanly leaving whole resources, and the next clean run completes with no gaps or duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.pipeline.run import RunOptions, run_export
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, Sandbox
from sandbox.dividends import UNKNOWN_TYPES
from tests.flows.harness import (
    FAST_RETRY,
    assert_parquet_equals_duckdb,
    db_contents,
    query,
    sandbox_config,
    scalar,
    settings_for,
)

API = "/api/v0/equity"
DIVS = f"{API}/history/dividends"
HISTORY = {"dividends": "reference", "orders": "order_id", "transactions": "reference"}


def assert_exact(data_dir: Path, sb: Sandbox) -> None:
    """The history equals the sandbox's truth, key by key and to the last decimal."""
    truth = sb.truth(DEMO_ACCOUNT_ID)
    for table, key in HISTORY.items():
        count = scalar(data_dir, f'SELECT count(*) FROM "{table}"')
        distinct = scalar(data_dir, f'SELECT count(DISTINCT "{key}") FROM "{table}"')
        assert count == distinct == truth[table]["count"], table
    assert scalar(data_dir, "SELECT sum(amount) FROM dividends") == truth["dividends"]["amount"]
    assert (
        scalar(data_dir, "SELECT sum(amount) FROM transactions") == truth["transactions"]["amount"]
    )
    assert_parquet_equals_duckdb(data_dir)


@pytest.fixture
def sandbox():
    # 'slow' sleeps 4000 s of sandbox time: 2 s here, past the 0.5 s client timeout
    with Sandbox(sandbox_config(slow_seconds=4000)) as sb:
        yield sb


def run(sb: Sandbox, data_dir: Path, **kw):
    settings = settings_for(sb, data_dir)
    return run_export(
        settings, RunOptions(client_options={"retry": FAST_RETRY, "timeout": 0.5}, **kw)
    )


# Every transient fault, several per run, on history and snapshot endpoints alike.
TRANSIENT = {
    "status-codes": {
        "dividends": "429",
        "orders": "500",
        "transactions": "502",
        "positions": "503",
    },
    "network": {"dividends": "slow", "orders": "reset", "account/summary": "reset"},
    "bodies": {
        "dividends": "truncated",
        "orders": "malformed",
        "transactions": "html200",
        "positions": "html502",
    },
}


@pytest.mark.slow  # whole exports under faults
@pytest.mark.parametrize("faults", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_faults_are_retried_to_the_exact_truth(sandbox, tmp_path, faults):
    # two faults per endpoint, mid-walk for history: within the retry bound (3 attempts)
    for endpoint, fault in faults.items():
        path = f"{API}/history/{endpoint}" if endpoint in HISTORY else f"{API}/{endpoint}"
        sandbox.inject(fault, path=path, times=2, after=1 if endpoint in HISTORY else 0)
    summary = run(sandbox, tmp_path)
    assert summary.exit_code == 0, summary.errors()
    stats = [r.stats for a in summary.accounts for r in a.resources]
    assert sum(s.retries for s in stats) == 2 * len(faults)
    assert_exact(tmp_path, sandbox)


@pytest.mark.slow  # two whole exports a fault
@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("503", "HTTP 503"),
        ("429", "429 Too Many Requests"),
        ("reset", "connection failed"),
        ("slow", "timed out"),
        ("truncated", "not valid JSON"),
        ("html502", "text/html"),
        ("html200", "not valid JSON"),
        ("stuck_cursor", "did not advance"),
        ("foreign_cursor", "refusing to follow"),
    ],
)
def test_persistent_faults_fail_one_resource_cleanly_then_the_next_run_completes(
    sandbox, tmp_path, fault, message
):
    history = list(HISTORY)  # the reference lists and snapshots add nothing to this test
    assert run(sandbox, tmp_path, only=history).exit_code == 0
    sandbox.advance(days=300)
    before = db_contents(tmp_path, "dividends")
    state = db_contents(tmp_path, "load_state", "WHERE resource = 'dividends'")
    sandbox.inject(fault, path=DIVS, times=100, after=1)
    failed = run(sandbox, tmp_path, full_refresh=True, only=history)
    assert failed.exit_code == 1
    (error,) = failed.errors()
    assert "dividends" in error and message in error and "\n" not in error
    assert DEMO_KEY not in error
    outcomes = {r.resource: r.outcome for a in failed.accounts for r in a.resources}
    assert outcomes["dividends"] == "failed" and outcomes["orders"] == "success"
    assert db_contents(tmp_path, "dividends") == before
    assert db_contents(tmp_path, "load_state", "WHERE resource = 'dividends'") == state
    sandbox.clear_faults()
    assert run(sandbox, tmp_path, only=history).exit_code == 0
    assert_exact(tmp_path, sandbox)


def test_429_storm_waits_for_the_reset_and_sends_nothing_meanwhile(sandbox, tmp_path):
    sandbox.inject("429", path=DIVS, times=2)
    summary = run(sandbox, tmp_path, only=["dividends"])
    assert summary.exit_code == 0
    (result,) = summary.accounts[0].resources
    assert result.stats.rate_limited == 2 and result.stats.wait_seconds > 0
    pages = -(-sandbox.truth(DEMO_ACCOUNT_ID)["dividends"]["count"] // 50)
    # every request is a page or one of the two refused: nothing sent into a spent window
    assert sandbox.request_counts(DEMO_ACCOUNT_ID)[DIVS] == pages + 2


def test_ip_restricted_key_is_refused_with_a_clear_message(sandbox, tmp_path):
    from flows.pipeline.run import CredentialsRefused

    sandbox.set_ip_restricted(DEMO_KEY)
    with pytest.raises(CredentialsRefused, match="restricted to other IP addresses"):
        run(sandbox, tmp_path)
    assert not (tmp_path / "warehouse.duckdb").exists()


@pytest.mark.slow  # whole exports
def test_unknown_fields_and_enum_values_load_and_are_reported_once(tmp_path, caplog):
    with Sandbox(sandbox_config(extra_fields=True)) as sb:
        with caplog.at_level("WARNING", logger="t212_etl"):
            summary = run(sb, tmp_path)
        assert summary.exit_code == 0
        assert_exact(tmp_path, sb)
    reports = [r.getMessage() for r in caplog.records if "new API field" in r.getMessage()]
    assert reports and len(reports) == len(set(reports))
    assert any("dividends." in line for line in reports)
    types = {row[0] for row in query(tmp_path, "SELECT DISTINCT type FROM dividends")}
    assert set(UNKNOWN_TYPES) <= types  # not in the specification, loaded as they came
