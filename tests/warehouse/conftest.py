"""Shared fixtures: an open warehouse in a temporary directory and typed input tables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from transforms.catalogue import table as catalogue_table
from warehouse import Warehouse

T0 = datetime(2024, 3, 1, 2, 30, tzinfo=UTC)
T1 = datetime(2024, 3, 2, 2, 30, tzinfo=UTC)
T2 = datetime(2024, 3, 3, 2, 30, tzinfo=UTC)


def rows_table(name: str, rows: list[dict], *, loaded_at=T0, run_id="run-0") -> pa.Table:
    """An Arrow table of the declared schema; undeclared values are null, load metadata filled."""
    schema = catalogue_table(name).arrow_schema()
    full = [{"_loaded_at": loaded_at, "_run_id": run_id, **row} for row in rows]
    return pa.Table.from_pylist(
        [{f.name: r.get(f.name) for f in schema} for r in full], schema=schema
    )


def dividend(ref: str, amount: str, *, account=1, ticker="AAPL_US_EQ", paid_on=T0, cur="GBP"):
    """A dividends row."""
    return {
        "account_id": account,
        "reference": ref,
        "ticker": ticker,
        "paid_on": paid_on,
        "amount": Decimal(amount),
        "currency": cur,
    }


def position(ticker: str, qty: str, cost: str, *, account=1, at=T0, cur="GBP"):
    """A positions row of the snapshot taken at ``at``."""
    return {
        "account_id": account,
        "snapshot_at": at,
        "snapshot_date": at.date(),
        "ticker": ticker,
        "quantity": Decimal(qty),
        "wallet_impact_currency": cur,
        "wallet_impact_total_cost": Decimal(cost),
    }


def summary(at: datetime, total: str, *, account=1, cash="0", invested="0", cost="0"):
    """An account_summaries row."""
    return {
        "account_id": account,
        "snapshot_at": at,
        "snapshot_date": date(at.year, at.month, at.day),
        "currency": "GBP",
        "total_value": Decimal(total),
        "cash_available_to_trade": Decimal(cash),
        "investments_current_value": Decimal(invested),
        "investments_total_cost": Decimal(cost),
    }


@pytest.fixture
def wh(tmp_path):
    """An open warehouse over ``tmp_path / 'data'``."""
    with Warehouse.open(tmp_path / "data") as warehouse:
        yield warehouse


@pytest.fixture
def new_process(monkeypatch):
    """The state of a process that has started no new database yet (``warehouse.schema``)."""
    from warehouse import schema

    monkeypatch.setattr(schema, "_new_databases", 0)
    monkeypatch.setattr(schema, "_blank", None)
