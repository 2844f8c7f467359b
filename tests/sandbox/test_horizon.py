"""The history horizon: the JSON endpoints serve only the last N days, the CSV exports all."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import httpx
import pytest

from extractors.reports import INCLUDE_ALL
from sandbox import DEMO_ACCOUNT_ID, DEMO_KEY, DEMO_SECRET, Sandbox
from sandbox.cli import config_from
from sandbox.csvreport import report_rows
from sandbox.timeline import DAY_MS
from tests.sandbox.conftest import API, key_of, small_config, walk
from tests.sandbox.test_cli import _parse

HISTORY = {"dividends": "paidOn", "orders": None, "transactions": "dateTime"}
DAYS = 90


def _instant(item: dict, resource: str) -> datetime:
    field = HISTORY[resource]
    return datetime.fromisoformat(item["order"]["createdAt"] if field is None else item[field])


def _horizon_sandbox() -> Sandbox:
    config = small_config()
    account = dataclasses.replace(config.accounts[0], history_days=DAYS)
    return Sandbox(dataclasses.replace(config, accounts=(account,)))


@pytest.mark.parametrize("limit", [7, 50])
def test_json_history_stops_at_the_horizon_and_exports_still_serve_all(limit: int) -> None:
    with (
        _horizon_sandbox() as sb,
        httpx.Client(base_url=sb.base_url, auth=(DEMO_KEY, DEMO_SECRET), timeout=5) as client,
    ):
        book = sb.books[DEMO_ACCOUNT_ID]
        oldest = datetime.fromtimestamp((book.now_ms - DAYS * DAY_MS) / 1000).astimezone()
        for resource in HISTORY:
            series = getattr(book, resource)
            items = [i for p in walk(client, f"{API}/history/{resource}?limit={limit}") for i in p]
            served = [_instant(item, resource) for item in items]
            expected = sum(series.time_ms(i) >= book.horizon_ms() for i in range(series.count))
            assert len(items) == len({key_of(i) for i in items}) == expected
            assert 0 < expected < series.count, resource  # the horizon cuts the history
            assert min(served) >= oldest - timedelta(seconds=1)
        # the exports know nothing of the horizon: every item, back to the first
        rows = report_rows(0, book.now_ms, INCLUDE_ALL, book)
        assert len(rows) > sum(
            sum(s.time_ms(i) >= book.horizon_ms() for i in range(s.count))
            for s in (book.dividends, book.orders, book.transactions)
        )
        sb.advance(10)  # the horizon moves with the account's clock
        after = [i for p in walk(client, f"{API}/history/orders?limit=50") for i in p]
        assert min(_instant(i, "orders") for i in after) >= oldest + timedelta(days=10, seconds=-1)


def test_the_command_line_sets_the_horizon_of_every_account() -> None:
    config = config_from(_parse("--history-days", "90"))
    assert [a.history_days for a in config.accounts] == [90, 90]
    assert config_from(_parse()).accounts[0].history_days is None
    with pytest.raises(ValueError, match="history_days"):
        dataclasses.replace(config.accounts[0], history_days=0)
