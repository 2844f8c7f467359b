"""Every table and view of the portfolio model is in the README, with a query that runs."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs.test_documented_code import blocks
from warehouse.portfolio_views import PORTFOLIO_VIEWS
from warehouse.tax_views import TAX_VIEWS

ROOT = Path(__file__).resolve().parents[2]
DERIVED = ("disposals", "holding_changes", "returns")


def _portfolio_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("\n## Portfolio\n", 1)[1].split("\n## ", 1)[0]


def test_every_portfolio_view_and_table_is_listed_and_queried():
    section = _portfolio_section()
    queried = " ".join(blocks(ROOT / "README.md", "sql"))
    for name in (*PORTFOLIO_VIEWS, *TAX_VIEWS, *DERIVED):
        assert f"`{name}`" in section, f"{name} missing from the README's Portfolio table"
        assert re.search(rf"\b(FROM|JOIN)\s+{name}\b", queried), f"no example query of {name}"
