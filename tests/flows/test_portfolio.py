"""The portfolio model over the sandbox's whole history, through real sockets, and its failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import flows.pipeline.portfolio as portfolio_module
from flows.app.cli import main
from flows.pipeline import run as run_module
from sandbox import DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID, Sandbox
from tests.flows.harness import db_contents, export, query, sandbox_config, settings_for
from warehouse import raw

METHODS = ("average", "fifo", "uk")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """Two sandbox accounts, three nightly runs a month apart, CSV reports included.

    Each run's clock is the sandbox's, so a positions snapshot is stamped with the moment
    the sandbox took it, as a real one is.
    """
    data_dir = tmp_path_factory.mktemp("portfolio") / "data"
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)
    with (
        pytest.MonkeyPatch.context() as patch,
        Sandbox(sandbox_config(two_accounts=True, now=first)) as sb,
    ):
        settings = settings_for(sb, data_dir, names=("invest", "isa"))
        for run in range(3):
            clock = first + timedelta(days=30 * run)
            patch.setattr(run_module, "now_utc", lambda clock=clock: clock)
            assert export(settings, with_reports=True).exit_code == 0
            if run < 2:
                sb.advance(30)
    return data_dir


def test_every_method_disposes_of_what_the_history_sold(exported):
    sold = dict(query(exported, "SELECT account_id, sum(quantity) FROM position_events "
                                "WHERE kind = 'sell' GROUP BY ALL"))  # fmt: skip
    assert len(sold) == 2 and all(q > 0 for q in sold.values())
    for method in METHODS:
        disposed = dict(query(exported, "SELECT account_id, sum(quantity) FROM disposals "
                                        "WHERE method = ? GROUP BY ALL", [method]))  # fmt: skip
        assert disposed == sold, method
    # every sell reached the pools from the API once: no report trade doubled a fill
    assert query(exported, "SELECT DISTINCT source FROM position_events") == [("api",)]


def test_average_cost_equals_the_brokers_figures_to_the_cent(exported):
    assert query(exported, "SELECT * FROM realised_gains_differences") == []
    ours, broker, n = query(
        exported,
        "SELECT sum(round(result_before_fees, 2)), sum(broker_result), count(*) FROM disposals "
        "WHERE method = 'average'",
    )[0]
    assert n > 50 and ours == broker
    # and the CSV reports' Result column says the same as the fills
    report = query(exported, "SELECT sum(result) FROM activity WHERE action LIKE '% sell'")
    assert report[0][0] == broker


def test_holdings_rebuilt_from_the_first_event_equal_every_positions_snapshot(exported):
    assert query(exported, "SELECT * FROM holdings_differences") == []
    snapshots = query(
        exported, "SELECT count(DISTINCT (account_id, snapshot_at)), count(*) FROM positions"
    )
    assert snapshots[0][0] == 6 and snapshots[0][1] > 30  # three runs of two accounts
    # every snapshot holds what the fills before it add up to (the sandbox is one ledger)
    unequal = query(
        exported,
        "SELECT p.account_id, p.snapshot_at, p.ticker FROM positions p WHERE p.quantity <> ("
        "SELECT sum(f.quantity) FROM fills f WHERE f.account_id = p.account_id "
        "AND f.ticker = p.ticker AND f.filled_at <= p.snapshot_at)",
    )
    assert unequal == []
    # the last snapshots come after every event: each one equals the rebuilt day, row by row
    last = (
        "FROM positions p WHERE p.snapshot_at = "
        "(SELECT max(snapshot_at) FROM positions l WHERE l.account_id = p.account_id)"
    )
    expected = query(
        exported,
        f"SELECT p.account_id, p.ticker, p.quantity, round(p.wallet_impact_total_cost, 2) "
        f"{last} ORDER BY ALL",
    )
    rebuilt = query(
        exported,
        "SELECT h.account_id, h.ticker, h.quantity, round(h.cost_basis, 2) FROM holdings_daily h "
        "JOIN (SELECT DISTINCT p.account_id, p.snapshot_date " + last + ") s "
        "ON s.account_id = h.account_id AND s.snapshot_date = h.day ORDER BY ALL",
    )
    assert rebuilt == expected and len(expected) > 10


def test_gains_by_year_add_up_the_disposals(exported):
    rows = query(
        exported,
        "SELECT method, sum(disposals), sum(proceeds), sum(gain) - sum(loss) "
        "FROM realised_gains_by_year GROUP BY ALL ORDER BY ALL",
    )
    totals = query(
        exported,
        "SELECT method, count(*), sum(proceeds), sum(gain) FROM disposals "
        "GROUP BY ALL ORDER BY ALL",
    )
    assert rows == totals and [r[0] for r in rows] == list(METHODS)
    years = {y for (y,) in query(exported, "SELECT DISTINCT year FROM realised_gains_by_year "
                                           "WHERE method = 'uk'")}  # fmt: skip
    assert years and all(len(y) == 7 and y[4] == "/" for y in years)


def test_income_and_returns_come_out_of_the_same_data(exported):
    income = query(
        exported,
        "SELECT sum(dividends_net), sum(withholding_tax), sum(dividends_gross) FROM income_monthly",
    )[0]
    dividends = query(exported, "SELECT sum(amount) FROM dividends")[0][0]
    assert income[0] == dividends and income[1] > 0 and income[2] == income[0] + income[1]
    returns = query(
        exported,
        "SELECT account_id, period_kind, count(*) FROM returns GROUP BY ALL ORDER BY ALL",
    )
    assert {r[0] for r in returns} == {DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID}
    assert {r[1] for r in returns} >= {"month", "year", "inception"}


def _report_files(data_dir: Path, folder: Path) -> list[str]:
    """The CSV reports a run downloaded, as files a user would have saved."""
    folder.mkdir()
    paths = []
    for run in raw.iter_runs(data_dir):
        if run.resource == "reports" and run.account == str(DEMO_ACCOUNT_ID):
            for page in raw.iter_pages(run):
                path = folder / f"{run.run_id}-{len(paths)}.csv"
                path.write_bytes(page.body)
                paths.append(str(path))
    return paths


def test_a_user_with_only_csv_reports_gets_the_same_gains_and_holdings(exported, tmp_path):
    files = _report_files(exported, tmp_path / "downloads")
    assert files
    csv_only = tmp_path / "csv-only"
    account = ["--account-id", str(DEMO_ACCOUNT_ID)]
    assert main(["import-csv", "--data-dir", str(csv_only), *account, *files]) == 0
    gains = (
        "SELECT method, count(*), sum(quantity), sum(proceeds), sum(allowable_costs), sum(gain) "
        "FROM disposals WHERE account_id = ? GROUP BY ALL ORDER BY ALL"
    )
    from_api = query(exported, gains, [DEMO_ACCOUNT_ID])
    assert query(csv_only, gains, [DEMO_ACCOUNT_ID]) == from_api and len(from_api) == 3
    assert query(csv_only, "SELECT DISTINCT source FROM position_events") == [("report",)]
    held = "SELECT instrument, quantity FROM holding_changes WHERE account_id = ? ORDER BY ALL"
    assert query(csv_only, held, [DEMO_ACCOUNT_ID]) == query(exported, held, [DEMO_ACCOUNT_ID])


@pytest.mark.slow  # exports of its own
def test_a_model_that_cannot_be_derived_fails_in_one_line_and_keeps_everything(
    tmp_path, monkeypatch
):
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, tmp_path)
        assert export(settings).exit_code == 0
        before = db_contents(tmp_path, "disposals")
        fills = db_contents(tmp_path, "fills")
        assert before

        def broken(events, **options):
            raise ValueError("an event the engine cannot read")

        monkeypatch.setattr(portfolio_module, "derive_portfolio_tables", broken)
        sb.advance(3)
        summary = export(settings)
    assert summary.exit_code == 1
    (line,) = [e for e in summary.errors() if "portfolio" in e]
    assert "an event the engine cannot read" in line and "\n" not in line
    assert db_contents(tmp_path, "disposals") == before
    assert len(db_contents(tmp_path, "fills")) >= len(fills)


@pytest.mark.slow  # exports of its own
def test_base_currency_columns_use_rates_the_data_carries(tmp_path):
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, tmp_path, base_currency="USD")
        assert export(settings).exit_code == 0
    rows = query(
        tmp_path,
        "SELECT d.day, d.currency, d.gain, d.base_rate, d.gain_base, d.base_rate_source "
        "FROM disposals_converted d WHERE method = 'average' ORDER BY d.day, d.disposal_id",
    )
    assert rows and {r[1] for r in rows} == {"EUR"}
    converted = [r for r in rows if r[3] is not None]
    assert converted, "the account's USD trades carry EUR per USD rates"
    for day, _, gain, rate, gain_base, source in converted:
        (observed,) = query(
            tmp_path,
            "SELECT rate FROM fx_rates_observed WHERE currency = 'USD' AND day <= ? "
            "ORDER BY day DESC, source LIMIT 1",
            [day],
        )[0]
        assert rate == (Decimal(1) / observed).quantize(Decimal("1e-10")) or abs(
            rate - Decimal(1) / observed
        ) < Decimal("1e-9")
        assert gain_base == (gain * rate).quantize(Decimal("1e-10"))
        assert source.startswith("api fill:")
    unconverted = query(
        tmp_path, "SELECT sum(unconverted), any_value(base_currency) FROM realised_gains_by_year"
    )[0]
    assert unconverted == (len(rows) - len(converted), "USD")


def test_the_isa_account_is_told_apart_from_the_taxable_one(exported):
    wrappers = query(exported, "SELECT account_id, wrapper FROM account_wrappers ORDER BY ALL")
    assert wrappers == [(DEMO_ACCOUNT_ID, "invest"), (DEMO_ISA_ACCOUNT_ID, "isa")]
    by_wrapper = dict(query(exported, "SELECT wrapper, count(DISTINCT account_id) "
                                      "FROM realised_gains_by_year GROUP BY ALL"))  # fmt: skip
    assert by_wrapper == {"invest": 1, "isa": 1}
    taxable = query(exported, "SELECT count(*) FROM disposals WHERE method = 'uk' "
                              "AND account_id = ?", [DEMO_ACCOUNT_ID])[0][0]  # fmt: skip
    assert taxable > 0
    assert query(exported, "SELECT sum(disposals) FROM uk_cgt_summary")[0][0] == taxable
    subscribed = query(exported, "SELECT DISTINCT account_id FROM isa_subscriptions")
    assert subscribed == [(DEMO_ISA_ACCOUNT_ID,)]
