"""Views by tax wrapper and tax year: UK capital gains figures, ISA subscriptions, a forecast.

Each definition starts with its one-line description (in the database as the view's
comment, and in the generated docs/reference/views.md); docs/portfolio.md defines them.
"""

from __future__ import annotations

from warehouse.portfolio_views import UK_DAY, converted, tax_year

ISA_ALLOWANCE = 20_000
WRAPPER_PREFIX = "wrapper:"
_NAIVE = "naive estimate: gross per share paid over the last 12 months x quantity held now"

TAX_VIEWS: dict[str, str] = {
    # stored by every run as ``wrapper:<account id>`` in ``settings``; a lake reader has no
    # ``settings``, so the wrapper the derived ``disposals`` carry stands in
    "account_wrappers": f"""
        -- each account's tax wrapper (invest or isa), as the configuration declares it
        WITH "stored" AS (
            SELECT CAST(substr("name", {len(WRAPPER_PREFIX) + 1}) AS BIGINT) AS "account_id",
                   "value" AS "wrapper"
            FROM "settings" WHERE starts_with("name", '{WRAPPER_PREFIX}')
        )
        SELECT * FROM "stored"
        UNION ALL
        SELECT DISTINCT "account_id", "wrapper" FROM "disposals"
        WHERE "wrapper" IS NOT NULL
          AND "account_id" NOT IN (SELECT "account_id" FROM "stored")""",
    "uk_cgt_summary": f"""
        -- per UK tax year, taxable accounts only, in pounds: the SA108 capital gains figures
        WITH "taxable" AS ({
        converted(
            "disposals of taxable accounts in pounds",
            '''(SELECT * FROM "disposals"
                    WHERE "method" = 'uk' AND coalesce("wrapper", 'invest') <> 'isa')''',
            '"day"',
            ("proceeds", "allowable_costs", "gain"),
            target="'GBP'",
        )
    }), "years" AS (
            SELECT "year" AS "tax_year", count(*) AS "disposals",
                   count(DISTINCT "account_id") AS "accounts",
                   count(*) FILTER (WHERE "base_rate" IS NULL) AS "unconverted",
                   sum("proceeds_base") AS "proceeds",
                   sum("allowable_costs_base") AS "allowable_costs",
                   coalesce(sum("gain_base") FILTER (WHERE "gain_base" > 0), 0) AS "gains",
                   coalesce(-sum("gain_base") FILTER (WHERE "gain_base" < 0), 0) AS "losses"
            FROM "taxable" GROUP BY "year"
        )
        SELECT "tax_year", "disposals",
               CASE WHEN "unconverted" = 0 THEN "proceeds" END AS "disposal_proceeds",
               CASE WHEN "unconverted" = 0 THEN "allowable_costs" END AS "allowable_costs",
               CASE WHEN "unconverted" = 0 THEN "gains" END AS "gains_before_losses",
               CASE WHEN "unconverted" = 0 THEN "losses" END AS "losses",
               'GBP' AS "currency", "unconverted", "accounts"
        FROM "years"
        """,
    "isa_subscriptions": f"""
        -- per ISA account and UK tax year: deposits, withdrawals and the allowance left
        SELECT f."account_id", {tax_year(UK_DAY.format('f."at"'))} AS "tax_year",
               f."currency",
               coalesce(sum(f."amount") FILTER (WHERE f."kind" = 'deposit'), 0) AS "deposits",
               coalesce(-sum(f."amount") FILTER (WHERE f."kind" = 'withdrawal'), 0)
                   AS "withdrawals",
               coalesce(sum(f."amount") FILTER (WHERE f."kind" = 'transfer' AND f."amount" > 0),
                        0) AS "transfers_in",
               coalesce(-sum(f."amount") FILTER (WHERE f."kind" = 'transfer' AND f."amount" < 0),
                        0) AS "transfers_out",
               {ISA_ALLOWANCE} AS "allowance",
               {ISA_ALLOWANCE}
                   - coalesce(sum(f."amount") FILTER (WHERE f."kind" = 'deposit'), 0)
                   - coalesce(sum(f."amount") FILTER (WHERE f."kind" = 'withdrawal'), 0)
                   AS "allowance_left"
        FROM "external_flows" f
        JOIN "account_wrappers" w ON w."account_id" = f."account_id" AND w."wrapper" = 'isa'
        GROUP BY ALL
        """,
    "dividend_forecast": f"""
        -- a naive estimate: last 12 months' gross per share x the quantity held now
        WITH "paid" AS (
            SELECT d."account_id", coalesce(d."instrument_isin", i."isin", d."ticker")
                       AS "instrument",
                   d."ticker", d."paid_on" AS "at", d."gross_amount_per_share" AS "per_share",
                   coalesce(d."ticker_currency", d."currency") AS "currency"
            FROM "dividends" d LEFT JOIN "instruments" i ON i."ticker" = d."ticker"
            UNION ALL
            SELECT a."account_id", coalesce(a."isin", a."ticker"), a."ticker", a."time",
                   a."price_per_share", coalesce(a."price_per_share_currency", a."total_currency")
            FROM "activity" a
            WHERE a."action" LIKE 'Dividend (%' AND NOT EXISTS (
                SELECT 1 FROM "dividend_reconciliation" m
                WHERE m."account_id" = a."account_id" AND m."activity_id" = a."id"
                  AND m."reference" IS NOT NULL)
        ), "trailing" AS (
            SELECT "account_id", "instrument", "currency", max("ticker") AS "ticker",
                   sum("per_share") AS "gross_per_share_ttm", count(*) AS "payments_ttm"
            FROM "paid" WHERE "at" >= current_timestamp - INTERVAL 12 MONTH
            GROUP BY ALL
        ), "held" AS (
            SELECT "account_id", "instrument", "quantity" FROM "holding_changes"
            QUALIFY row_number() OVER (PARTITION BY "account_id", "instrument"
                                       ORDER BY "day" DESC) = 1
        )
        SELECT t."account_id", t."instrument", t."ticker", t."payments_ttm",
               t."gross_per_share_ttm", h."quantity" AS "quantity_held",
               CAST(t."gross_per_share_ttm" * h."quantity" AS DECIMAL(38,10)) AS "forecast",
               sum(CAST(t."gross_per_share_ttm" * h."quantity" AS DECIMAL(38,10))) OVER (
                   PARTITION BY t."account_id", t."currency") AS "account_total",
               t."currency", '{_NAIVE}' AS "basis"
        FROM "trailing" t
        JOIN "held" h ON h."account_id" = t."account_id" AND h."instrument" = t."instrument"
        WHERE h."quantity" > 0
        """,
}
