"""Analysis views over the warehouse tables; money stays DECIMAL throughout.

- ``positions_latest``: the newest positions snapshot of each account. An
  account whose newest snapshot held nothing shows its last non-empty one,
  since an empty snapshot leaves no rows.
- ``dividends_monthly``: per account, calendar month (UTC) and currency. The
  API's ``amount`` is what was paid into the account after any withholding,
  and the API reports no tax, so ``gross_amount`` and ``net_amount`` are both
  that amount until a source for withholding exists.
- ``dividend_income_by_ticker``: income over the trailing twelve months and all
  time, the cost basis of the current holding (``wallet_impact_total_cost`` of
  ``positions_latest``) and ``yield_on_cost`` = trailing income / cost, truncated
  to 10 decimal places and computed exactly in integers (DuckDB would divide
  decimals as DOUBLE); NULL without a holding or when currencies differ.
- ``portfolio_value_daily``: the last account summary of each day per account,
  with ``cash`` = available to trade + in pies + reserved for orders.
"""

from __future__ import annotations

import duckdb

_SCALE = 10_000_000_000  # 10 ** DECIMAL_SCALE

VIEWS: dict[str, str] = {
    "positions_latest": """
        SELECT p.* FROM "positions" p
        WHERE p."snapshot_at" = (
            SELECT max(l."snapshot_at") FROM "positions" l WHERE l."account_id" = p."account_id"
        )""",
    "dividends_monthly": """
        SELECT "account_id",
               CAST(date_trunc('month', timezone('UTC', "paid_on")) AS DATE) AS "month",
               "currency",
               sum("amount") AS "gross_amount",
               sum("amount") AS "net_amount",
               count(*) AS "payments"
        FROM "dividends"
        GROUP BY ALL""",
    "dividend_income_by_ticker": f"""
        WITH "income" AS (
            SELECT "account_id", "ticker", "currency",
                   coalesce(sum("amount") FILTER (
                       WHERE "paid_on" >= current_timestamp - INTERVAL 12 MONTH
                   ), CAST(0 AS DECIMAL(38,10))) AS "income_ttm",
                   sum("amount") AS "income_all_time"
            FROM "dividends" GROUP BY ALL
        ), "cost" AS (
            SELECT "account_id", "ticker", "wallet_impact_currency" AS "cost_currency",
                   sum("wallet_impact_total_cost") AS "cost_basis"
            FROM "positions_latest" GROUP BY ALL
        )
        SELECT i."account_id", i."ticker", i."currency", i."income_ttm", i."income_all_time",
               c."cost_basis", c."cost_currency",
               CASE WHEN c."cost_basis" > 0 AND c."cost_currency" = i."currency" THEN
                   CAST(CAST(i."income_ttm" * {_SCALE} AS HUGEINT) * {_SCALE}
                        // CAST(c."cost_basis" * {_SCALE} AS HUGEINT) AS DECIMAL(38,0))
                   * CAST('0.0000000001' AS DECIMAL(38,10))
               END AS "yield_on_cost"
        FROM "income" i
        LEFT JOIN "cost" c ON c."account_id" = i."account_id" AND c."ticker" = i."ticker"
        """,
    "portfolio_value_daily": """
        SELECT "account_id", "snapshot_date" AS "date", "currency", "total_value",
               "investments_current_value", "investments_total_cost",
               coalesce("cash_available_to_trade", 0) + coalesce("cash_in_pies", 0)
                   + coalesce("cash_reserved_for_orders", 0) AS "cash",
               "snapshot_at"
        FROM "account_summaries"
        QUALIFY row_number() OVER (
            PARTITION BY "account_id", "snapshot_date" ORDER BY "snapshot_at" DESC
        ) = 1""",
}


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create or replace every analysis view."""
    for name, body in VIEWS.items():
        con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {body}')
