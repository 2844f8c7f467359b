"""The portfolio model on hand-made accounts: returns at valuation instants, transfers as
flows, tax wrappers, UK capital gains figures, ISA subscriptions, fees and the forecast."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from flows.pipeline.portfolio import refresh_portfolio
from tests.warehouse.conftest import T0, rows_table, summary


def _load(wh, resource, account, table, rows):
    data = {table: rows_table(table, rows)}
    wh.merge_resource(resource, account, data, run_id="r0", loaded_at=T0, cursor=None)


def at(day: str, clock: str = "02:30") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00+00:00").astimezone(UTC)


def _transaction(ref, kind, amount, when, account=1, currency="GBP"):
    return {
        "account_id": account,
        "reference": ref,
        "type": kind,
        "date_time": when,
        "amount": D(amount),
        "currency": currency,
    }


def _returns(wh, account=1):
    refresh_portfolio(wh, run_id="r1", loaded_at=T0)
    rows = wh.connection.sql(
        "SELECT period_kind, period, twr, mwr, max_drawdown, net_flows FROM returns "
        f"WHERE account_id = {account} ORDER BY ALL"
    ).fetchall()
    return {
        (kind, period): (twr, mwr, drawdown, flows)
        for kind, period, twr, mwr, drawdown, flows in rows
    }


def test_a_deposit_after_the_nightly_valuation_is_no_return(wh):
    # 50,000 in the account, valued every night at 02:30 (the evening before's value);
    # 10,000 deposited on 31 January at 09:00, no market move
    values = [("2025-01-30", "50000"), ("2025-01-31", "50000"), ("2025-02-01", "60000"),
              ("2025-02-02", "60000")]  # fmt: skip
    _load(wh, "summary", 1, "account_summaries", [summary(at(d), v) for d, v in values])
    deposit = _transaction("t1", "DEPOSIT", "10000", at("2025-01-31", "09:00"))
    _load(wh, "transactions", 1, "transactions", [deposit])
    got = _returns(wh)
    assert got[("month", "2025-01")][0] == 0
    assert got[("month", "2025-02")][0] == 0
    assert got[("year", "2025")][:3] == (0, 0, 0)
    assert got[("inception", "inception")][2] == 0
    assert got[("month", "2025-02")][3] == D("10000")


def test_several_valuations_a_day_are_sub_periods_of_their_own(wh):
    values = [(at("2025-02-28"), "100"), (at("2025-03-01"), "100"),
              (at("2025-03-01", "12:00"), "150"), (at("2025-03-01", "20:00"), "165")]  # fmt: skip
    _load(wh, "summary", 1, "account_summaries", [summary(t, v) for t, v in values])
    deposit = _transaction("t1", "DEPOSIT", "50", at("2025-03-01", "09:00"))
    _load(wh, "transactions", 1, "transactions", [deposit])
    # the 10 % grew on the 150 held after the deposit, not on the 100 before it
    assert _returns(wh)[("month", "2025-03")][0] == D("0.1")


def test_money_moved_by_a_transfer_is_an_external_flow(wh):
    values = [("2025-03-01", "1000"), ("2025-03-02", "2000"), ("2025-03-03", "1500"),
              ("2025-03-04", "1500")]  # fmt: skip
    _load(wh, "summary", 1, "account_summaries", [summary(at(d), v) for d, v in values])
    moved_in = _transaction("t1", "TRANSFER", "1000", at("2025-03-01", "10:00"))
    moved_out = _transaction("t2", "TRANSFER", "-500", at("2025-03-02", "10:00"))
    _load(wh, "transactions", 1, "transactions", [moved_in, moved_out])
    report_transfer = {
        "account_id": 1, "id": "r1", "action": "Transfer", "time": at("2025-03-03", "10:00"),
        "total": D("-250"), "total_currency": "GBP",
    }  # fmt: skip
    _load(wh, "activity", 1, "activity", [report_transfer])
    flows = wh.connection.sql(
        'SELECT amount FROM external_flows WHERE account_id = 1 ORDER BY "at"'
    ).fetchall()
    assert flows == [(D("1000"),), (D("-500"),), (D("-250"),)]
    twr, _, drawdown, net = _returns(wh)[("month", "2025-03")]
    # 1500 after the last transfer out of 250 is 1750 before it: +16.666... %
    assert (twr, drawdown, net) == (D("0.1666666667"), 0, D("250"))


def _trade(row_id, action, when, shares, price, total, account=1, **extra):
    """A report trade row in an account in GBP of a share priced in EUR."""
    return {
        "account_id": account, "id": row_id, "order_id": int(row_id[1:]), "action": action,
        "time": when, "isin": "FR0000000001", "ticker": "EXMC", "shares": D(shares),
        "price_per_share": D(price), "price_per_share_currency": "EUR",
        "total": D(total), "total_currency": "GBP", **extra,
    }  # fmt: skip


def test_a_fee_in_another_currency_is_converted_at_the_rows_own_rate(wh):
    # 10 shares at 100 EUR with 3.00 EUR French transaction tax at 1.25 EUR per GBP:
    # the tax is 2.40 GBP; the row's total 802.50 GBP carries the broker's rounding
    buy = _trade("a1", "Market buy", at("2025-03-03", "10:00"), "10", "100", "-802.50",
                 exchange_rate=D("1.25"), french_transaction_tax=D("3.00"),
                 french_transaction_tax_currency="EUR")  # fmt: skip
    _load(wh, "activity", 1, "activity", [buy])
    ((fees, value),) = wh.connection.sql(
        "SELECT fees, value FROM position_events WHERE event_id = 'activity:a1'"
    ).fetchall()
    assert (fees, value) == (D("2.40"), D("800.10"))
