"""The dashboard command and page without a browser: files, accounts, empty cases, formatting."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd

from flows.app.dashboard import build_dashboard
from flows.app.dashboard.money import format_change, format_money, format_percent
from flows.app.dashboard.queries import INTEREST_LIKE_BELOW, _median_gap_days, month_start
from sandbox import DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID
from tests.flows.harness import scalar
from warehouse import Warehouse

# Runs `report` in a fresh interpreter and proves Prefect was never imported.
NO_PREFECT = """
import sys
from flows.app.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))
print("prefect modules:", loaded)
sys.exit(code)
"""


def _dashboard_cli(*args: str, command: str = "dashboard") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_PREFECT, command, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_writes_a_private_self_contained_page_without_prefect(report_warehouse):
    data_dir, _ = report_warehouse
    # `report`, the command's earlier name, still writes it
    done = _dashboard_cli("--data-dir", str(data_dir), command="report")
    assert done.returncode == 0, done.stderr
    assert "prefect modules: []" in done.stdout
    page = data_dir / "dashboard.html"
    assert f"dashboard written to {page}" in done.stdout
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    html = page.read_text()
    assert html.count("plotly.js v") == 1, "plotly.js is inlined exactly once"
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html), "nothing loaded from outside"
    for account in (DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID):
        assert f'data-testid="account-{account}"' in html


def test_cli_one_account_to_a_chosen_file(report_warehouse, tmp_path):
    data_dir, _ = report_warehouse
    out = tmp_path / "isa.html"
    args = ("--data-dir", str(data_dir), "--account", str(DEMO_ISA_ACCOUNT_ID), "--output")
    done = _dashboard_cli(*args, str(out))
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert f'data-testid="account-{DEMO_ISA_ACCOUNT_ID}"' in html
    assert f'data-testid="account-{DEMO_ACCOUNT_ID}"' not in html
    assert "£" in html and "€" not in html


def test_cli_refuses_an_unknown_account(report_warehouse, tmp_path):
    data_dir, _ = report_warehouse
    done = _dashboard_cli("--data-dir", str(data_dir), "--account", "42", "--output", "x.html")
    assert done.returncode == 2
    assert "no account 42 in the warehouse" in done.stderr


def test_empty_warehouse_gets_a_message_not_a_chart(tmp_path):
    with Warehouse.open(tmp_path) as warehouse:
        warehouse.publish_database()
    html = build_dashboard(tmp_path)
    assert 'data-testid="empty-warehouse"' in html
    assert "run `t212-etl run` first" in html
    assert "plotly" not in html.lower()


def test_cash_flows_tell_interest_like_deposits_apart(report_warehouse):
    data_dir, _ = report_warehouse
    html = build_dashboard(data_dir, [DEMO_ACCOUNT_ID])
    shown = dict(
        re.findall(r'data-testid="cash-(\w+)" data-value="([^"]+)"', html.replace("-like", ""))
    )
    as_of = datetime.fromisoformat(re.search(r'datetime="([^"]+)"', html).group(1))
    window = [DEMO_ACCOUNT_ID, month_start(as_of, 23), as_of]
    where = "account_id = ? AND date_time >= ? AND date_time <= ? AND type = 'DEPOSIT'"
    small = scalar(
        data_dir, f"SELECT sum(amount) FROM transactions WHERE {where} AND amount < 10", window
    )
    large = scalar(
        data_dir, f"SELECT sum(amount) FROM transactions WHERE {where} AND amount >= 10", window
    )
    assert INTEREST_LIKE_BELOW == 10
    assert Decimal(shown["interest_like"]) == small
    assert Decimal(shown["deposit"]) == large


def test_money_is_rounded_half_even_in_its_currency():
    assert format_money(Decimal("1234.565"), "EUR") == "€1,234.56"
    assert format_money(Decimal("1234.575"), "GBP") == "£1,234.58"
    assert format_money(Decimal("-0.4"), "USD") == "-$0.40"
    assert format_money(Decimal("12"), "SEK") == "12.00 SEK"
    assert format_money(None, "EUR") == "–"
    assert format_percent(Decimal("0.0209351091")) == "2.09%"
    assert format_change(Decimal(110), Decimal(100)) == "+10.00% on the twelve months before"
    assert format_change(Decimal(5), Decimal(0)) == "no income in the twelve months before"


def test_cadence_needs_three_payments_and_uses_the_median_gap():
    days = pd.Series(pd.to_datetime(["2025-01-10", "2025-04-10", "2025-07-12"], utc=True))
    assert _median_gap_days(days) == 91.5  # gaps of 90 and 93 days
    assert _median_gap_days(days.iloc[:2]) is None


def test_month_start_crosses_years():
    at = datetime(2026, 2, 17, 9, 30, tzinfo=UTC)
    assert month_start(at) == datetime(2026, 2, 1, tzinfo=UTC)
    assert month_start(at, 23) == datetime(2024, 3, 1, tzinfo=UTC)
    assert month_start(at, 2) == datetime(2025, 12, 1, tzinfo=UTC)
    new_year_in_tokyo = datetime(2026, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=9)))
    assert month_start(new_year_in_tokyo) == datetime(2025, 12, 1, tzinfo=UTC)
