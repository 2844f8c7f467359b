"""Every table and view of the portfolio model is in docs/portfolio.md, with a query that runs."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs.test_documented_code import blocks
from warehouse.portfolio_views import PORTFOLIO_VIEWS
from warehouse.tax_views import TAX_VIEWS

ROOT = Path(__file__).resolve().parents[2]
DERIVED = ("disposals", "holding_changes", "returns")


PAGE = ROOT / "docs" / "portfolio.md"


def _portfolio_section() -> str:
    return PAGE.read_text()


def test_every_portfolio_view_and_table_is_listed_and_queried():
    section = _portfolio_section()
    queried = " ".join(blocks(PAGE, "sql"))
    for name in (*PORTFOLIO_VIEWS, *TAX_VIEWS, *DERIVED):
        assert f"`{name}`" in section, f"{name} missing from docs/portfolio.md"
        assert re.search(rf"\b(FROM|JOIN)\s+{name}\b", queried), f"no example query of {name}"
