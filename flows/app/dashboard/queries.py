"""Reads of the published warehouse for the dashboard: small pandas frames, money as Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import pandas as pd

from warehouse import views

MONTHS = 24
# Trading 212 credits interest on cash as small DEPOSIT transactions the API does not tell
# apart from real deposits; without a report row, below this amount a deposit is shown as
# "probably interest" (the ``cash_transactions`` view decides).
INTEREST_LIKE_BELOW = Decimal(views.INTEREST_LIKE_BELOW)
CADENCE_MIN_PAYMENTS = 3


@dataclass(frozen=True)
class AccountData:
    """Everything the dashboard shows about one account."""

    account_id: int
    summary: pd.Series | None
    last_refresh: datetime | None
    monthly_dividends: pd.DataFrame
    dividend_months: pd.DataFrame
    ttm: pd.DataFrame
    by_ticker: pd.DataFrame
    allocation: pd.DataFrame
    value_history: pd.DataFrame
    cash_flows: pd.DataFrame
    gains: pd.DataFrame
    income_years: pd.DataFrame
    returns: pd.DataFrame
    wrapper: str = "invest"  # the account's tax wrapper: invest (taxable) or isa


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run ``sql`` and return a pandas frame whose DECIMAL columns hold exact Decimals."""
    return con.sql(sql, params=params or []).to_arrow_table().to_pandas()


def month_start(at: datetime, months_back: int = 0) -> datetime:
    """The first instant (UTC) of the month ``months_back`` months before the month of ``at``."""
    at = at.astimezone(UTC)
    index = at.year * 12 + at.month - 1 - months_back
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.replace(year=index // 12, month=index % 12 + 1)


def account_ids(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Every account the warehouse holds data of, in id order."""
    rows = con.execute(
        'SELECT DISTINCT "account_id" FROM "load_state" WHERE "account_id" <> 0 '
        'UNION SELECT DISTINCT "account_id" FROM "account_summaries" ORDER BY 1'
    ).fetchall()
    return [int(r[0]) for r in rows]


def read_account(con: duckdb.DuckDBPyConnection, account_id: int, as_of: datetime) -> AccountData:
    """All dashboard frames of ``account_id``, with trailing windows ending at ``as_of``."""
    acc = [account_id]
    summaries = frame(
        con,
        'SELECT * FROM "portfolio_value_daily" WHERE "account_id" = ? ORDER BY "date"',
        acc,
    )
    refreshed = con.execute(
        'SELECT max("last_success_at") FROM "load_state" WHERE "account_id" = ?', acc
    ).fetchall()[0][0]
    return AccountData(
        account_id=account_id,
        summary=summaries.iloc[-1] if len(summaries) else None,
        last_refresh=refreshed,
        monthly_dividends=_monthly_dividends(con, account_id, as_of),
        dividend_months=_dividend_months(con, account_id, as_of),
        ttm=_ttm(con, account_id, as_of),
        by_ticker=_by_ticker(con, account_id, as_of),
        allocation=_allocation(con, account_id),
        value_history=summaries,
        cash_flows=_cash_flows(con, account_id, as_of),
        gains=_gains(con, account_id),
        income_years=_income_years(con, account_id),
        returns=_returns(con, account_id),
        wrapper=_wrapper(con, account_id),
    )


def _wrapper(con, account_id: int) -> str:
    """The account's tax wrapper as the last run stored it; ``invest`` when none did."""
    rows = con.execute(
        'SELECT "value" FROM "settings" WHERE "name" = ?', [f"wrapper:{account_id}"]
    ).fetchall()
    return rows[0][0] if rows else "invest"


def _monthly_dividends(con, account_id: int, as_of: datetime) -> pd.DataFrame:
    return frame(
        con,
        """SELECT CAST(date_trunc('month', timezone('UTC', "paid_on")) AS DATE) AS "month",
                  "currency", "ticker", sum("amount") AS "amount"
           FROM "dividends"
           WHERE "account_id" = ? AND "paid_on" >= ? AND "paid_on" <= ?
           GROUP BY ALL ORDER BY ALL""",
        [account_id, month_start(as_of, MONTHS - 1), as_of],
    )


def _dividend_months(con, account_id: int, as_of: datetime) -> pd.DataFrame:
    """Monthly totals per currency over 35 months, for a trailing-twelve-month line of 24."""
    return frame(
        con,
        """SELECT CAST(date_trunc('month', timezone('UTC', "paid_on")) AS DATE) AS "month",
                  "currency", sum("amount") AS "amount"
           FROM "dividends"
           WHERE "account_id" = ? AND "paid_on" >= ? AND "paid_on" <= ?
           GROUP BY ALL ORDER BY ALL""",
        [account_id, month_start(as_of, MONTHS + 10), as_of],
    )


def _ttm(con, account_id: int, as_of: datetime) -> pd.DataFrame:
    """Per currency: income of the twelve months to ``as_of`` and of the twelve before."""
    return frame(
        con,
        """SELECT "currency",
                  coalesce(sum("amount") FILTER (WHERE "paid_on" >= ?::TIMESTAMPTZ
                      - INTERVAL 12 MONTH), 0::DECIMAL(38,10)) AS "ttm",
                  coalesce(sum("amount") FILTER (WHERE "paid_on" < ?::TIMESTAMPTZ
                      - INTERVAL 12 MONTH), 0::DECIMAL(38,10)) AS "previous_ttm",
                  count(*) FILTER (WHERE "paid_on" >= ?::TIMESTAMPTZ - INTERVAL 12 MONTH)
                      AS "payments"
           FROM "dividends"
           WHERE "account_id" = ? AND "paid_on" >= ?::TIMESTAMPTZ - INTERVAL 24 MONTH
             AND "paid_on" <= ?
           GROUP BY ALL ORDER BY ALL""",
        [as_of, as_of, as_of, account_id, as_of, as_of],
    )


def _by_ticker(con, account_id: int, as_of: datetime) -> pd.DataFrame:
    """Income per ticker (all time and TTM), yield on cost, and the payment cadence."""
    income = frame(
        con,
        """SELECT d."ticker", d."currency",
                  any_value(d."instrument_name" ORDER BY d."paid_on" DESC) AS "name",
                  sum(d."amount") AS "income_all_time",
                  coalesce(sum(d."amount") FILTER (WHERE d."paid_on" >= ?::TIMESTAMPTZ
                      - INTERVAL 12 MONTH), 0::DECIMAL(38,10)) AS "income_ttm",
                  count(*) AS "payments",
                  max(d."paid_on") AS "last_paid",
                  any_value(y."yield_on_cost") AS "yield_on_cost",
                  bool_or(p."ticker" IS NOT NULL) AS "held"
           FROM "dividends" d
           LEFT JOIN "dividend_income_by_ticker" y USING ("account_id", "ticker", "currency")
           LEFT JOIN (SELECT DISTINCT "account_id", "ticker" FROM "positions_latest") p
               USING ("account_id", "ticker")
           WHERE d."account_id" = ? AND d."paid_on" <= ?
           GROUP BY ALL ORDER BY "income_all_time" DESC, d."ticker\"""",
        [as_of, account_id, as_of],
    )
    dates = frame(
        con,
        'SELECT "ticker", "paid_on" FROM "dividends" WHERE "account_id" = ? AND "paid_on" <= ? '
        'ORDER BY "ticker", "paid_on"',
        [account_id, as_of],
    )
    gaps = {ticker: _median_gap_days(paid) for ticker, paid in dates.groupby("ticker")["paid_on"]}
    income["gap_days"] = [gaps.get(ticker) for ticker in income["ticker"]]
    income["next_expected"] = [
        last + timedelta(days=gap) if held and pd.notna(gap) else None
        for last, gap, held in zip(
            income["last_paid"], income["gap_days"], income["held"], strict=True
        )
    ]
    return income


def _median_gap_days(paid_on: pd.Series) -> float | None:
    days = paid_on.dt.floor("D").drop_duplicates()
    if len(days) < CADENCE_MIN_PAYMENTS:
        return None
    return float(days.diff().dropna().dt.days.median())


def _allocation(con, account_id: int) -> pd.DataFrame:
    return frame(
        con,
        """SELECT p."ticker", coalesce(i."name", p."instrument_name", p."ticker") AS "name",
                  p."wallet_impact_currency" AS "currency",
                  coalesce(p."price_currency_major", p."instrument_currency", 'unknown')
                      AS "instrument_currency",
                  coalesce(i."type", 'UNKNOWN') AS "type",
                  p."wallet_impact_current_value" AS "value"
           FROM "positions_latest" p LEFT JOIN "instruments" i USING ("ticker")
           WHERE p."account_id" = ?
           ORDER BY "value" DESC, p."ticker\"""",
        [account_id],
    )


def _cash_flows(con, account_id: int, as_of: datetime) -> pd.DataFrame:
    return frame(
        con,
        """SELECT CAST(date_trunc('month', timezone('UTC', "date_time")) AS DATE) AS "month",
                  "currency",
                  CASE WHEN "kind_source" = 'estimate' THEN 'INTEREST_LIKE'
                       WHEN "kind_source" = 'report' AND "kind" = 'interest' THEN 'INTEREST'
                       ELSE "type" END AS "kind",
                  sum("amount") AS "amount", count(*) AS "count"
           FROM "cash_transactions"
           WHERE "account_id" = ? AND "date_time" >= ? AND "date_time" <= ?
           GROUP BY ALL ORDER BY ALL""",
        [account_id, month_start(as_of, MONTHS - 1), as_of],
    )


def _gains(con, account_id: int) -> pd.DataFrame:
    """Realised gains per year and currency by UK share matching and by average cost."""
    return frame(
        con,
        """SELECT "method", "year", "currency", CAST("disposals" AS BIGINT) AS "disposals",
                  "proceeds", "allowable_costs", "gain", "loss", "gain" - "loss" AS "net"
           FROM "realised_gains_by_year"
           WHERE "account_id" = ? AND "method" IN ('uk', 'average')
           ORDER BY "method", "currency", "year" DESC""",
        [account_id],
    )


def _income_years(con, account_id: int) -> pd.DataFrame:
    """Dividends, withholding tax, interest and fees per UK tax year and account currency."""
    return frame(
        con,
        """SELECT "tax_year", "currency", sum("dividends_gross") AS "gross",
                  sum("withholding_tax") AS "withholding", sum("dividends_net") AS "net",
                  sum("interest") AS "interest", sum("fees") AS "fees",
                  CAST(sum("dividend_payments") AS BIGINT) AS "payments"
           FROM "income_monthly" WHERE "account_id" = ?
           GROUP BY ALL ORDER BY "currency", "tax_year" DESC""",
        [account_id],
    )


def _returns(con, account_id: int) -> pd.DataFrame:
    """The year and inception rows of ``returns``, latest year first, inception last."""
    return frame(
        con,
        """SELECT "period_kind", "period", "start_day", "end_day", "start_value", "end_value",
                  "net_flows", "twr", "mwr", "max_drawdown", "days", "currency"
           FROM "returns" WHERE "account_id" = ? AND "period_kind" IN ('year', 'inception')
           ORDER BY "period_kind" = 'inception', "period" DESC""",
        [account_id],
    )
