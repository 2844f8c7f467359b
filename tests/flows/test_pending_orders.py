"""Pending orders through the sandbox over real sockets: every field exact, a scope of its own."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from extractors.auth import Credentials
from extractors.client import T212Client
from extractors.resources import RESOURCES
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, Sandbox
from sandbox.config import ALL_SCOPES
from tests.flows.harness import db_contents, export, sandbox_config, scalar, settings_for
from warehouse import connect_readonly

COLUMNS = {  # table column: the API's field in an Order
    "order_id": "id", "ticker": "ticker", "type": "type", "side": "side", "status": "status",
    "strategy": "strategy", "initiated_from": "initiatedFrom", "time_in_force": "timeInForce",
    "extended_hours": "extendedHours", "created_at": "createdAt", "currency": "currency",
    "quantity": "quantity", "filled_quantity": "filledQuantity", "value": "value",
    "filled_value": "filledValue", "limit_price": "limitPrice", "stop_price": "stopPrice",
}  # fmt: skip


def _as_loaded(field: str, value: object) -> object:
    """An API value as the table holds it: decimals exact, times in UTC."""
    if value is None:
        return None
    if field == "createdAt":
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if isinstance(value, float | int) and not isinstance(value, bool) and field != "id":
        return Decimal(str(value))
    return value


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The default sandbox account exported twice, a day apart; the sandbox keeps running."""
    data_dir = tmp_path_factory.mktemp("pending")
    with Sandbox(sandbox_config()) as sb:
        settings = settings_for(sb, data_dir)
        first = export(settings)
        with T212Client(Credentials(DEMO_KEY, DEMO_SECRET), base_url=sb.base_url) as client:
            served = client.get(RESOURCES["pending_orders"].path).data
        yield sb, settings, first, served


def test_every_field_of_every_open_order_lands_exactly(loaded):
    sb, settings, first, served = loaded
    assert first.exit_code == 0
    names = list(COLUMNS)
    rows = scalar(settings.data_dir, "SELECT count(*) FROM pending_orders")
    assert rows == len(served) == sb.truth(DEMO_ACCOUNT_ID)["pending_orders"]["count"]
    table = db_contents(settings.data_dir, "pending_orders")
    columns = _columns(settings.data_dir)
    held = sorted(
        (tuple(row[columns.index(n)] for n in names) for row in table), key=lambda r: r[0]
    )
    expected = sorted(
        (tuple(_as_loaded(COLUMNS[n], order.get(COLUMNS[n])) for n in names) for order in served),
        key=lambda r: r[0],
    )
    assert held == expected
    missing = "SELECT count(*) FROM pending_orders WHERE instrument_isin IS NULL"
    assert scalar(settings.data_dir, missing) == 0


def test_each_run_keeps_its_own_snapshot(loaded):
    sb, settings, _, _ = loaded
    sb.advance(1)
    assert export(settings).exit_code == 0
    snapshots = scalar(settings.data_dir, "SELECT count(DISTINCT snapshot_at) FROM pending_orders")
    assert snapshots == 2
    newest = scalar(
        settings.data_dir,
        "SELECT sum(quantity) FROM pending_orders "
        "WHERE snapshot_at = (SELECT max(snapshot_at) FROM pending_orders)",
    )
    assert newest == sb.truth(DEMO_ACCOUNT_ID)["pending_orders"]["quantity"]


def test_a_key_without_orders_read_fails_only_pending_orders_naming_the_scope(tmp_path):
    with Sandbox(sandbox_config()) as sb:
        sb.set_key_scopes(DEMO_KEY, ALL_SCOPES - {"orders:read"})
        summary = export(settings_for(sb, tmp_path))
        truth = sb.truth(DEMO_ACCOUNT_ID)
    assert summary.exit_code == 1
    failed = [r for r in summary.accounts[0].resources if r.outcome == "failed"]
    assert [r.resource for r in failed] == ["pending_orders"]
    assert "orders:read" in failed[0].error
    assert scalar(tmp_path, "SELECT count(*) FROM pending_orders") == 0
    assert scalar(tmp_path, "SELECT count(*) FROM dividends") == truth["dividends"]["count"]


def _columns(data_dir) -> list[str]:
    con = connect_readonly(data_dir)
    try:
        return [r[0] for r in con.execute("DESCRIBE pending_orders").fetchall()]
    finally:
        con.close()
