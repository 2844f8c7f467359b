"""The export through the sandbox over real sockets: exact totals, incremental, idempotent."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

from extractors.client import T212Client
from flows.pipeline import run as run_module
from flows.pipeline.rebuild import rebuild
from sandbox import DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID, Sandbox
from tests.flows.harness import (
    assert_parquet_equals_duckdb,
    db_contents,
    export,
    sandbox_config,
    scalar,
    settings_for,
    tables_contents,
)
from transforms.catalogue import TABLES
from warehouse import Warehouse, connect_readonly
from warehouse.publisher import LocalParquet

HISTORY = ("dividends", "orders", "transactions")
API = "/api/v0/equity"


def assert_matches_truth(
    data_dir: Path, truth: dict, account_id: int, reference: bool = True
) -> None:
    """Every resource has the sandbox's own count of keys and exact sums, in DuckDB."""
    acc = [account_id]

    def one(sql: str):
        return scalar(data_dir, sql, acc)

    div = truth["dividends"]
    assert (
        one("SELECT count(DISTINCT reference) FROM dividends WHERE account_id = ?") == div["count"]
    )
    assert one("SELECT sum(amount) FROM dividends WHERE account_id = ?") == div["amount"]
    orders = truth["orders"]
    assert (
        one("SELECT count(DISTINCT order_id) FROM orders WHERE account_id = ?") == orders["count"]
    )
    assert one("SELECT count(*) FROM fills WHERE account_id = ?") == orders["fills"]
    assert one("SELECT count(*) FROM fill_taxes WHERE account_id = ?") == orders["taxes"]
    net = one("SELECT sum(wallet_impact_net_value) FROM fills WHERE account_id = ?")
    assert net == orders["fill_net_value"]
    tx = truth["transactions"]
    assert (
        one("SELECT count(DISTINCT reference) FROM transactions WHERE account_id = ?")
        == tx["count"]
    )
    assert one("SELECT sum(amount) FROM transactions WHERE account_id = ?") == tx["amount"]
    pos = truth["positions"]
    latest = "FROM positions_latest WHERE account_id = ?"
    assert one(f"SELECT count(*) {latest}") == pos["count"]
    assert one(f"SELECT sum(quantity) {latest}") == pos["quantity"]
    assert one(f"SELECT sum(wallet_impact_current_value) {latest}") == pos["wallet_current_value"]
    if not reference:
        return
    assert scalar(data_dir, "SELECT count(*) FROM instruments") == truth["instruments"]["count"]
    assert scalar(data_dir, "SELECT count(*) FROM exchanges") == truth["exchanges"]["count"]
    events = scalar(data_dir, "SELECT count(*) FROM working_schedule_events")
    assert events == truth["exchanges"]["time_events"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Two sandbox accounts exported once into one warehouse; the sandbox keeps running."""
    data_dir = tmp_path_factory.mktemp("wh")
    with Sandbox(sandbox_config(two_accounts=True)) as sb:
        settings = settings_for(sb, data_dir, names=("invest", "isa"))
        first = export(settings)
        yield sb, settings, first


def test_every_resource_lands_with_the_sandbox_totals(loaded):
    sb, settings, first = loaded
    assert first.outcome == "success" and first.exit_code == 0
    for account_id in (DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID):
        assert_matches_truth(settings.data_dir, sb.truth(account_id), account_id)
    assert_parquet_equals_duckdb(settings.data_dir)


def test_money_keeps_every_decimal_place(loaded):
    _, settings, _ = loaded
    values = [r[0] for r in db_contents(settings.data_dir, "fills")]
    assert values  # sanity: rows exist
    scales = scalar(
        settings.data_dir,
        "SELECT max(length(split_part(CAST(price AS VARCHAR), '.', 2))) FROM fills",
    )
    assert scales == 10  # DECIMAL(38,10) holds the full scale the API may send
    gbx = scalar(
        settings.data_dir,
        "SELECT count(*) FROM positions WHERE instrument_currency = 'GBX' "
        "AND price_currency_major = 'GBP' AND current_price_major * 100 = current_price",
    )
    assert gbx > 0


def test_two_accounts_stay_separate(loaded):
    sb, settings, _ = loaded
    for account_id in (DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID):
        count = scalar(
            settings.data_dir, "SELECT count(*) FROM dividends WHERE account_id = ?", [account_id]
        )
        assert count == sb.truth(account_id)["dividends"]["count"]
    con = connect_readonly(settings.data_dir)
    currencies = dict(con.execute("SELECT account_id, currency FROM account_summaries").fetchall())
    con.close()
    assert currencies == {DEMO_ACCOUNT_ID: "EUR", DEMO_ISA_ACCOUNT_ID: "GBP"}
    partitions = sorted(p.name for p in (settings.data_dir / "parquet" / "dividends").iterdir())
    assert partitions == [f"account_id={DEMO_ACCOUNT_ID}", f"account_id={DEMO_ISA_ACCOUNT_ID}"]


def test_second_run_without_activity_is_minimal_and_changes_nothing(loaded):
    sb, settings, _ = loaded
    sb.reset_counts()
    second = export(settings)
    assert second.exit_code == 0
    for account in second.accounts:
        for r in account.resources:
            if r.resource in HISTORY:
                assert all(c.inserted == 0 and c.updated == 0 for c in r.counts.values()), r
            if r.resource in ("instruments", "exchanges"):
                assert r.outcome == "skipped"
    for account_id in (DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID):
        counts = sb.request_counts(account_id)
        for name in HISTORY:
            assert counts.get(f"{API}/history/{name}") == 1, (account_id, name, counts)
        assert counts.get(f"{API}/metadata/instruments", 0) == 0
        assert counts.get(f"{API}/metadata/exchanges", 0) == 0


@pytest.mark.slow  # whole exports
def test_new_activity_adds_exactly_the_new_items(loaded):
    sb, settings, _ = loaded
    before = {a: sb.truth(a) for a in (DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID)}
    sb.advance(days=9)
    after = {a: sb.truth(a) for a in (DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID)}
    run = export(settings)
    assert run.exit_code == 0
    for account in run.accounts:
        by_resource = {r.resource: r for r in account.resources}
        new_divs = (
            after[account.account_id]["dividends"]["count"]
            - before[account.account_id]["dividends"]["count"]
        )
        assert by_resource["dividends"].counts["dividends"].inserted == new_divs
        new_tx = (
            after[account.account_id]["transactions"]["count"]
            - before[account.account_id]["transactions"]["count"]
        )
        assert by_resource["transactions"].counts["transactions"].inserted == new_tx
        # reference lists are younger than their maximum age, so they were rightly skipped
        assert_matches_truth(
            settings.data_dir, after[account.account_id], account.account_id, False
        )
    assert_parquet_equals_duckdb(settings.data_dir)


@pytest.mark.slow  # a full-refresh export
def test_full_refresh_changes_no_row_counts(loaded):
    sb, settings, _ = loaded
    tables = ("dividends", "orders", "fills", "fill_taxes", "transactions", "instruments")
    counts = {t: scalar(settings.data_dir, f'SELECT count(*) FROM "{t}"') for t in tables}
    sb.reset_counts()
    run = export(settings, full_refresh=True)
    assert run.exit_code == 0
    assert {t: scalar(settings.data_dir, f'SELECT count(*) FROM "{t}"') for t in tables} == counts
    assert sb.request_counts(DEMO_ACCOUNT_ID).get(f"{API}/history/orders", 0) > 1
    for account in run.accounts:
        for r in account.resources:
            if r.resource in HISTORY:
                assert all(c.inserted == 0 for c in r.counts.values())


@pytest.mark.slow  # an export and a rebuild
def test_rebuild_gives_identical_tables(loaded):
    _, settings, _ = loaded
    before = tables_contents(settings.data_dir)
    replayed = rebuild(settings.data_dir)
    assert replayed["dividends"] >= 2
    after = tables_contents(settings.data_dir)
    for name in TABLES:
        assert after[name] == before[name], name
    assert_parquet_equals_duckdb(settings.data_dir)


@pytest.mark.slow  # whole exports
def test_failure_mid_resource_leaves_table_and_cursor_then_next_run_completes(tmp_path):
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, tmp_path)
        first = export(settings, only=["dividends"])
        assert first.exit_code == 0
        sb.advance(days=400)
        table_before = db_contents(tmp_path, "dividends")
        state_before = db_contents(tmp_path, "load_state", "WHERE resource = 'dividends'")
        # two pages go through, then the server fails for longer than the retry bound
        sb.inject("503", path=f"{API}/history/dividends", times=50, after=2)
        failed = export(settings, only=["dividends", "transactions"], full_refresh=True)
        assert failed.exit_code == 1
        (account,) = failed.accounts
        outcomes = {r.resource: r.outcome for r in account.resources}
        assert outcomes["dividends"] == "failed" and outcomes["transactions"] == "success"
        assert "503" in failed.errors()[0]
        assert db_contents(tmp_path, "dividends") == table_before
        assert db_contents(tmp_path, "load_state", "WHERE resource = 'dividends'") == state_before
        sb.clear_faults()
        again = export(settings, only=["dividends"])
        assert again.exit_code == 0
        truth = sb.truth(DEMO_ACCOUNT_ID)["dividends"]
        assert scalar(tmp_path, "SELECT count(*) FROM dividends") == truth["count"]
        assert scalar(tmp_path, "SELECT count(DISTINCT reference) FROM dividends") == truth["count"]
        assert scalar(tmp_path, "SELECT sum(amount) FROM dividends") == truth["amount"]
        assert isinstance(truth["amount"], Decimal)


@pytest.mark.slow  # a whole export
def test_history_requests_go_out_while_the_warehouse_is_being_prepared(tmp_path, monkeypatch):
    """The views, the run log row and the Parquet repair are not waited for by the history."""
    history_sent = threading.Event()
    real_get, real_views = T212Client.get, Warehouse.create_views
    views_waited = []

    def get(client, path, params=None):
        if "/history/" in path:
            history_sent.set()
        return real_get(client, path, params)

    def create_views(wh):
        views_waited.append(history_sent.wait(timeout=10))
        real_views(wh)

    monkeypatch.setattr(T212Client, "get", get)
    monkeypatch.setattr(Warehouse, "create_views", create_views)
    with Sandbox(sandbox_config()) as sb:
        summary = export(settings_for(sb, tmp_path))
        assert summary.exit_code == 0, summary.errors()
        assert views_waited == [True]
        assert_matches_truth(tmp_path, sb.truth(DEMO_ACCOUNT_ID), DEMO_ACCOUNT_ID)
    (run,) = db_contents(tmp_path, "runs")
    assert run[0] == summary.run_id and "success" in run
    assert_parquet_equals_duckdb(tmp_path)


def test_the_run_log_is_published_with_the_last_tables_in_one_publish(tmp_path, monkeypatch):
    """A run ends in one publish of everything pending, its run log included (a lake: one
    round of commits, not one for the tables and another for the run log)."""
    calls: list[set[str]] = []

    class Recording(LocalParquet):
        def publish(self, con, pending):
            calls.append({table.name for table, _ in pending})
            return super().publish(con, pending)

    monkeypatch.setattr(run_module, "publisher_for", lambda settings, names: Recording(tmp_path))
    with Sandbox(sandbox_config()) as sb:
        for _ in range(2):  # a first run and a quiet night
            calls.clear()
            assert export(settings_for(sb, tmp_path)).exit_code == 0
            published = [names for names in calls if names]
            # the last publish holds the tables derived at the end and the run log
            assert {"runs", "run_resources", "returns"} <= published[-1]
    assert_parquet_equals_duckdb(tmp_path)
