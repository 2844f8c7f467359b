"""How far back each history reaches: the API's tables, the CSV reports, and what is missing.

- ``history_items``: every history event once, whichever source holds it: the API's
  fills, dividends and transactions, and the report rows no API row stands for (the
  rules the combined views use: an order by its id, a dividend by
  ``dividend_reconciliation``, a transaction by its reference or its second and amount).
- ``history_coverage``: per account and history resource the earliest and latest item
  of the API and of the reports, the earliest activity other sources show for it
  (``evidence_at``: positions opened, for orders; report rows for all three), and
  ``needs_backfill`` when that is more than a day older than the API's earliest item
  and no report period covers the time in between.
- ``history_coverage_gaps``: the times between the account's first activity (any
  source) and now that no report period covers. A report period is what a fetched
  report was asked for, or an imported file's first to last row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warehouse.matches import in_no_transaction

if TYPE_CHECKING:
    import duckdb

# CSV actions that are transactions in the API's sense (deposits, withdrawals, fees,
# transfers; interest arrives there as small deposits)
TRANSACTION_ACTIONS = (
    "Deposit", "Withdrawal", "Interest on cash", "Lending interest", "Fee", "Custody fee",
    "Transfer",
)  # fmt: skip
_CASH = ", ".join(f"'{a}'" for a in TRANSACTION_ACTIONS)
_TRADE = '(a."order_id" IS NOT NULL OR a."action" LIKE \'% buy\' OR a."action" LIKE \'% sell\')'
_RESOURCE = f"""CASE WHEN {_TRADE} THEN 'orders'
                    WHEN a."action" LIKE 'Dividend (%' THEN 'dividends'
                    WHEN a."action" IN ({_CASH}) THEN 'transactions' END"""
_PERIOD_TYPE = """'[{"from": "VARCHAR", "to": "VARCHAR"}]'"""

# Self-contained (tables only), so a run can ask it before its views exist.
_CTES = f"""
    "api" AS (
        SELECT "account_id", 'dividends' AS "resource", "paid_on" AS "at" FROM "dividends"
        UNION ALL SELECT "account_id", 'orders', "created_at" FROM "orders"
        UNION ALL SELECT "account_id", 'transactions', "date_time" FROM "transactions"
    ), "report" AS (
        SELECT a."account_id", {_RESOURCE} AS "resource", a."time" AS "at"
        FROM "activity" a
    ), "opened" AS (
        SELECT "account_id", 'orders' AS "resource", min("created_at") AS "at"
        FROM "positions" GROUP BY ALL
    ), "periods" AS (
        SELECT s."account_id", CAST(p."from" AS TIMESTAMPTZ) AS "from_at",
               CAST(p."to" AS TIMESTAMPTZ) AS "to_at"
        FROM "load_state" s, unnest(from_json(s."cursor" -> '$.periods', {_PERIOD_TYPE})) t(p)
        WHERE s."resource" = 'reports' AND s."cursor" IS NOT NULL
    ), "first_activity" AS (
        SELECT "account_id", min("at") AS "at" FROM (
            SELECT "account_id", "at" FROM "api" UNION ALL
            SELECT "account_id", "at" FROM "report" UNION ALL
            SELECT "account_id", "at" FROM "opened") GROUP BY ALL
    ), "reach" AS (
        SELECT *, max("to_at") OVER (PARTITION BY "account_id" ORDER BY "from_at", "to_at"
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS "reached"
        FROM "periods"
    ), "edges" AS (
        SELECT f."account_id", f."at" AS "first_at", min(p."from_at") AS "first_from",
               max(p."to_at") AS "last_to"
        FROM "first_activity" f LEFT JOIN "periods" p USING ("account_id") GROUP BY ALL
    ), "gaps" AS (
        SELECT "account_id", "first_at" AS "gap_from",
               coalesce("first_from", current_timestamp) AS "gap_to"
        FROM "edges" WHERE "first_from" IS NULL OR "first_at" < "first_from"
        UNION ALL
        SELECT "account_id", "reached", "from_at" FROM "reach" WHERE "from_at" > "reached"
        UNION ALL
        SELECT "account_id", "last_to", current_timestamp FROM "edges"
        WHERE "last_to" < current_timestamp
    )"""

COVERAGE_VIEWS: dict[str, str] = {
    "history_items": f"""
        -- every dividend, fill and transaction once, from the API or else a CSV report
        SELECT "account_id", 'orders' AS "resource", 'fill:' || "fill_id" AS "item",
               "filled_at" AS "at", "wallet_impact_net_value" AS "amount",
               "wallet_impact_currency" AS "currency", 'api' AS "source"
        FROM "fills"
        UNION ALL
        SELECT "account_id", 'dividends', "reference", "paid_on", "amount", "currency", 'api'
        FROM "dividends"
        UNION ALL
        SELECT "account_id", 'transactions', "reference", "date_time", "amount", "currency",
               'api'
        FROM "transactions"
        UNION ALL
        SELECT a."account_id", {_RESOURCE}, 'activity:' || a."id", a."time", a."total",
               a."total_currency", 'report'
        FROM "activity" a
        WHERE CASE WHEN {_TRADE} THEN NOT EXISTS (
                       SELECT 1 FROM "fills" f
                       WHERE f."account_id" = a."account_id" AND f."order_id" = a."order_id")
                   WHEN a."action" LIKE 'Dividend (%' THEN NOT EXISTS (
                       SELECT 1 FROM "dividend_reconciliation" m
                       WHERE m."account_id" = a."account_id" AND m."activity_id" = a."id"
                         AND m."reference" IS NOT NULL)
                   WHEN a."action" IN ({_CASH}) THEN {in_no_transaction("a")}
                   ELSE false END
        """,
    "history_coverage": f"""
        -- per account and history resource: API and report reach, evidence, needs_backfill
        WITH {_CTES}, "resources" AS (
            SELECT f."account_id", r."resource" FROM "first_activity" f,
                   (VALUES ('dividends'), ('orders'), ('transactions')) r("resource")
        ), "api_reach" AS (
            SELECT "account_id", "resource", min("at") AS "first_at", max("at") AS "last_at",
                   count(*) AS "items"
            FROM "api" GROUP BY ALL
        ), "report_reach" AS (
            SELECT "account_id", "resource", min("at") AS "first_at", max("at") AS "last_at",
                   count(*) AS "rows"
            FROM "report" WHERE "resource" IS NOT NULL GROUP BY ALL
        ), "evidence" AS (
            SELECT r."account_id", r."resource",
                   CASE WHEN o."at" < coalesce(p."first_at", o."at" + INTERVAL 1 DAY)
                        THEN o."at" ELSE p."first_at" END AS "at",
                   CASE WHEN o."at" < coalesce(p."first_at", o."at" + INTERVAL 1 DAY)
                        THEN 'positions opened' WHEN p."first_at" IS NOT NULL
                        THEN 'reports' END AS "source"
            FROM "resources" r
            LEFT JOIN "report_reach" p USING ("account_id", "resource")
            LEFT JOIN "opened" o USING ("account_id", "resource")
        )
        SELECT r."account_id", r."resource", a."first_at" AS "api_first_at",
               a."last_at" AS "api_last_at", coalesce(a."items", 0) AS "api_items",
               p."first_at" AS "report_first_at", p."last_at" AS "report_last_at",
               coalesce(p."rows", 0) AS "report_rows", f."at" AS "first_activity_at",
               e."at" AS "evidence_at", e."source" AS "evidence_source",
               coalesce(e."at" < coalesce(a."first_at", current_timestamp) - INTERVAL 1 DAY
                        AND EXISTS (
                   SELECT 1 FROM "gaps" g WHERE g."account_id" = r."account_id"
                     AND g."gap_from" < coalesce(a."first_at", current_timestamp)
                     AND g."gap_to" > e."at"), false) AS "needs_backfill"
        FROM "resources" r
        JOIN "first_activity" f USING ("account_id")
        LEFT JOIN "api_reach" a USING ("account_id", "resource")
        LEFT JOIN "report_reach" p USING ("account_id", "resource")
        LEFT JOIN "evidence" e USING ("account_id", "resource")
        """,
    "history_coverage_gaps": f"""
        -- times since the account's first activity that no CSV report period covers
        WITH {_CTES}
        SELECT "account_id", "gap_from", "gap_to",
               date_diff('day', "gap_from", "gap_to") AS "days"
        FROM "gaps" WHERE "gap_to" > "gap_from"
        """,
}


def read_coverage(con: duckdb.DuckDBPyConnection, account_id: int) -> list[dict]:
    """The ``history_coverage`` rows of one account, asked of the tables (no view needed)."""
    cursor = con.execute(
        f'SELECT * FROM ({COVERAGE_VIEWS["history_coverage"]}) WHERE "account_id" = ? '
        'ORDER BY "resource"',
        [account_id],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
