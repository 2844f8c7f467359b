"""The generated reference pages are committed as the generator writes them today."""

from __future__ import annotations

import pytest

from flows.app import docs
from warehouse.portfolio_views import PORTFOLIO_VIEWS
from warehouse.views import VIEWS


@pytest.mark.parametrize("relative", list(docs.pages()), ids=str)
def test_the_generated_page_is_up_to_date(relative):
    committed = (docs.ROOT / relative).read_text(encoding="utf-8")
    assert committed == docs.pages()[relative], (
        f"{relative} is out of date: run `python -m flows.app.docs`"
    )


def test_check_reports_a_stale_page_and_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    assert docs.main(["--check"]) == 1
    assert "out of date: docs/reference/views.md" in capsys.readouterr().out
    assert docs.main([]) == 0
    assert docs.main(["--check"]) == 0
    assert (tmp_path / "docs" / "reference" / "tables.md").read_text() == docs.tables_page()


def test_every_view_has_a_one_line_description_on_the_page():
    page = docs.views_page()
    for name, body in {**VIEWS, **PORTFOLIO_VIEWS}.items():
        assert f"| `{name}` | {docs.description(body)} |" in page
    with pytest.raises(ValueError, match="without its description"):
        docs.description("\n  SELECT 1")
