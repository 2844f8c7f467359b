"""The portfolio sections on sandbox warehouses: nightly runs, and CSV reports alone."""

from __future__ import annotations

from decimal import Decimal

from flows.app.dashboard import build_dashboard
from sandbox import DEMO_ACCOUNT_ID, DEMO_ISA_ACCOUNT_ID
from tests.flows.dashboard.pages import read_page
from tests.flows.dashboard.portfolio_checks import assert_sections_match_the_views
from tests.flows.dashboard.sample import build_imported_warehouse


def test_sample_warehouse_sections_show_the_views(report_warehouse):
    """Three nightly runs a month apart: returns over two months, gains from the sales."""
    data_dir, last_run = report_warehouse
    page = read_page(build_dashboard(data_dir, as_of=last_run))
    for account, currency in ((DEMO_ACCOUNT_ID, "EUR"), (DEMO_ISA_ACCOUNT_ID, "GBP")):
        assert_sections_match_the_views(data_dir, page, account, currency)
        assert page.tables[f"returns-table-{account}"], "three runs' values give returns"
        assert page.tables[f"gains-table-{account}-{currency}"], "the sandbox sells"
        assert page.tables[f"income-years-{account}-{currency}"], "the sandbox pays dividends"


def test_csv_reports_alone_give_gains_and_income_but_no_returns(tmp_path):
    """A user who only imported CSV reports: trades and dividends, but no daily values."""
    data_dir = tmp_path / "wh"
    (tmp_path / "csv").mkdir()
    build_imported_warehouse(data_dir, tmp_path / "csv")
    page = read_page(build_dashboard(data_dir))
    account = DEMO_ISA_ACCOUNT_ID
    assert_sections_match_the_views(data_dir, page, account, "GBP")
    assert f"returns-table-{account}" not in page.tables
    assert page.tables[f"gains-table-{account}-GBP"], "the reports' sales are disposals"
    rows = page.tables[f"income-years-{account}-GBP"]
    assert any(Decimal(r["income-withholding"].value) > 0 for r in rows), "the reports name it"
    for row in rows:
        gross, withheld, net = (
            Decimal(row[f"income-{m}"].value) for m in ("gross", "withholding", "net")
        )
        assert gross == withheld + net, row["year"]
