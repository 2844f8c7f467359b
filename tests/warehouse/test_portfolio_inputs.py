"""The portfolio model is derived again exactly when its inputs changed, never from stale rows."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

import flows.pipeline.portfolio as portfolio
from flows.pipeline.portfolio import refresh_portfolio, refresh_portfolio_step
from tests.warehouse.conftest import T0, summary
from tests.warehouse.test_portfolio_numbers import INVEST, ISA, T, _load, _two_wrappers, at

MODEL = "SELECT * EXCLUDE (_loaded_at, _run_id) FROM {} ORDER BY ALL"  # as derived


@pytest.fixture
def derived(wh, monkeypatch):
    """The warehouse with two accounts' trades, and a list that grows by one per derivation."""
    calls = []
    original = portfolio.derive_portfolio_tables

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(portfolio, "derive_portfolio_tables", counted)
    _two_wrappers(wh)  # derives once
    calls.clear()
    return wh, calls


def _model(wh) -> dict[str, list]:
    return {n: wh.connection.sql(MODEL.format(n)).fetchall() for n in portfolio._DERIVED}


def test_nothing_new_keeps_the_model_and_still_derives_returns(derived):
    wh, calls = derived
    before = _model(wh)
    values = [
        summary(at(day), total) for day, total in (("2025-06-01", "1000"), ("2025-06-02", "1100"))
    ]
    _load(wh, "summary", INVEST, "account_summaries", values)
    refresh_portfolio(wh, run_id="r2", loaded_at=T0)
    assert calls == []
    assert _model(wh) == before
    # as new as this derivation, as rows derived again would be (a rebuild derives them once)
    for name in portfolio._DERIVED:
        stamped = f"SELECT DISTINCT _run_id FROM {name}"
        assert wh.connection.sql(stamped).fetchall() == [("r2",)], name
    returns = "SELECT count(*) FROM returns WHERE account_id = ?"
    assert wh.connection.execute(returns, [INVEST]).fetchone()[0] > 0


def test_a_new_event_derives_the_model_again(derived):
    wh, calls = derived
    before = _model(wh)
    sale = T(INVEST, "a7", "Market sell", at("2025-07-01", "10:00"), "GB00000000Z3", "2", "300")
    _load(wh, "activity", INVEST, "activity", [sale])
    refresh_portfolio(wh, run_id="r2", loaded_at=T0)
    assert calls == [1]
    assert len(_model(wh)["disposals"]) > len(before["disposals"])


def test_a_changed_event_derives_the_model_again(derived):
    wh, calls = derived
    wh.connection.execute(
        "UPDATE activity SET total = total + 1 WHERE account_id = ? AND id = 'a2'", [INVEST]
    )
    refresh_portfolio(wh, run_id="r2", loaded_at=T0)
    assert calls == [1]
    gains = "SELECT sum(proceeds) FROM disposals WHERE account_id = ? AND method = 'average'"
    assert wh.connection.execute(gains, [INVEST]).fetchone()[0] == D("1851")


def test_a_new_wrapper_derives_the_model_again(derived):
    wh, calls = derived
    refresh_portfolio_step(wh, run_id="r2", loaded_at=T0, wrappers={ISA: "invest"})
    assert calls == [1]
    wrappers = "SELECT DISTINCT wrapper FROM disposals WHERE account_id = ?"
    assert wh.connection.execute(wrappers, [ISA]).fetchall() == [("invest",)]


@pytest.mark.parametrize("table", portfolio._DERIVED)
def test_a_model_table_changed_since_is_derived_again(derived, table):
    wh, calls = derived
    before = _model(wh)
    wh.connection.execute(f"DELETE FROM {table}")  # as a failed or partial rebuild may leave it
    refresh_portfolio(wh, run_id="r2", loaded_at=T0)
    assert calls == [1]
    assert _model(wh) == before
