"""The portfolio model's views: events, holdings by day, gains by year, income, conversions.

Each definition starts with its one-line description (in the database as the view's
comment, and in the generated docs/reference/views.md); docs/portfolio.md defines them.
"""

from __future__ import annotations

from warehouse.matches import in_no_transaction

_TRADE_KINDS = (
    "'STOCK_DISTRIBUTION', 'CUSTOM_STOCK_DISTRIBUTION', 'SCRIP_STOCK_DIVIDENDS', "
    "'STOCK_DIVIDENDS', 'STOCK_ACQUISITION', 'CASH_AND_STOCK_ACQUISITION', 'EQUITY_RIGHTS'"
)
# report fee columns that belong to a trade
_TRADE_FEES = (
    "stamp_duty",
    "stamp_duty_reserve_tax",
    "currency_conversion_fee",
    "french_transaction_tax",
    "finra_fee",
    "transaction_fee",
)
UK_DAY = "CAST(timezone('Europe/London', {}) AS DATE)"
_TAX_YEAR = (
    "CAST(year({d}) - CASE WHEN month({d}) < 4 OR (month({d}) = 4 AND day({d}) < 6) "
    "THEN 1 ELSE 0 END AS VARCHAR) || '/' || lpad(CAST((year({d}) + CASE WHEN month({d}) < 4 "
    "OR (month({d}) = 4 AND day({d}) < 6) THEN 0 ELSE 1 END) % 100 AS VARCHAR), 2, '0')"
)


def _utc_day(expression: str) -> str:
    return f"CAST(timezone('UTC', {expression}) AS DATE)"


def _implied_rate() -> str:
    """Account currency per unit of the price's currency, from a trade's own figures."""
    units = '"quantity" * "price" / CASE WHEN "price_currency" = \'GBX\' THEN 100 ELSE 1 END'
    return f'CAST(CAST("value" AS DOUBLE) / CAST({units} AS DOUBLE) AS DECIMAL(38,10))'


def _withholding(row: str, net: str) -> str:
    """A dividend's withholding tax (report row ``row``) in the account currency.

    Reports give it in the dividend's currency; converted at the payment's own rate: the
    net paid in the account currency over the net in the dividend's currency (shares x
    gross per share - tax).
    """
    tax = f'abs({row}."withholding_tax")'
    gross = f'{row}."shares" * {row}."price_per_share"'
    return f"""CASE WHEN {row}."withholding_tax_currency" IS NULL
               OR {row}."withholding_tax_currency" = {row}."total_currency" THEN {tax}
               ELSE CAST({tax} * abs({net}) / nullif({gross} - {tax}, 0) AS DECIMAL(38,10)) END"""


def tax_year(day_sql: str) -> str:
    """SQL for the UK tax year (``'2024/25'``) of a DATE expression."""
    return _TAX_YEAR.format(d=f"({day_sql})")


def _report_fee(column: str) -> str:
    """A report fee in the trade's account currency: as it is, at the row's own ``Exchange
    rate`` (units of the price's currency per unit of the account's) when the fee is in the
    price's currency, else at the trade's all-in rate (total over shares x price)."""
    fee, unit = f'abs(a."{column}")', f'a."{column}_currency"'
    return (
        f'coalesce(CASE WHEN {unit} IS NULL OR {unit} = a."total_currency" THEN {fee} '
        f'WHEN {unit} = a."price_per_share_currency" AND a."exchange_rate" > 0 '
        f'THEN CAST({fee} / a."exchange_rate" AS DECIMAL(38,10)) '
        f'ELSE CAST({fee} * abs(a."total") '
        '/ nullif(abs(a."shares" * a."price_per_share"), 0) AS DECIMAL(38,10))'
        " END, 0)"
    )


_REPORT_FEES = " + ".join(_report_fee(c) for c in _TRADE_FEES)
_BASE = """(SELECT "value" FROM "settings" WHERE "name" = 'base_currency')"""


def converted(
    description: str, source: str, day: str, amounts: tuple[str, ...], target: str = _BASE
) -> str:
    """``source`` with ``base_currency`` (the SQL ``target``, the setting by default), the
    rate used, its source and ``<amount>_base``; ``description`` heads the definition."""
    columns = ", ".join(
        f'CAST(s."{a}" * r."base_rate" AS DECIMAL(38,10)) AS "{a}_base"' for a in amounts
    )
    return f"""
        -- {description}
        SELECT s.*, b."base_currency", r."base_rate", r."base_rate_source", {columns}
        FROM {source} s
        CROSS JOIN (SELECT {target} AS "base_currency") b
        LEFT JOIN LATERAL (
            SELECT CASE WHEN s."currency" = b."base_currency" THEN CAST(1 AS DECIMAL(38,10))
                        ELSE CAST(1 / CAST(x."rate" AS DOUBLE) AS DECIMAL(38,10)) END
                       AS "base_rate",
                   CASE WHEN s."currency" = b."base_currency" THEN 'same currency'
                        ELSE x."source" || ' ' || CAST(x."day" AS VARCHAR) END
                       AS "base_rate_source"
            FROM (SELECT 1) one
            LEFT JOIN (
                SELECT * FROM "fx_rates_observed" o
                WHERE o."account_id" = s."account_id" AND o."currency" = b."base_currency"
                  AND o."day" <= s.{day}
                ORDER BY o."day" DESC, o."source" LIMIT 1
            ) x ON true
        ) r ON true"""


# In creation order: each view reads only the views before it.
PORTFOLIO_VIEWS: dict[str, str] = {
    "position_events": f"""
        -- every event that changes a holding, once: fills, report trades, splits
        WITH "fees" AS (
            SELECT "account_id", "fill_id", -sum("quantity") AS "fees"
            FROM "fill_taxes" GROUP BY ALL
        ), "isins" AS (
            SELECT "isin", min("ticker") AS "ticker" FROM "instruments"
            WHERE "isin" IS NOT NULL GROUP BY ALL
        ), "api" AS (
            SELECT f."account_id", 'fill:' || f."fill_id" AS "event_id", f."filled_at" AS "at",
                   f."ticker", coalesce(o."instrument_isin", i."isin") AS "isin",
                   CASE WHEN coalesce(f."type", 'TRADE') = 'TRADE'
                            THEN CASE WHEN f."quantity" >= 0 THEN 'buy' ELSE 'sell' END
                        WHEN f."type" IN ('FOP', 'FOP_CORRECTION')
                            THEN CASE WHEN f."quantity" >= 0 THEN 'transfer_in'
                                      ELSE 'transfer_out' END
                        WHEN f."type" IN ({_TRADE_KINDS}) AND f."quantity" >= 0 THEN 'buy'
                        ELSE 'adjust' END AS "kind",
                   f."quantity" AS "signed_quantity", coalesce(x."fees", 0) AS "fees",
                   abs(f."wallet_impact_net_value") AS "net_value",
                   f."wallet_impact_currency" AS "currency",
                   f."wallet_impact_realised_profit_loss" AS "broker_result",
                   f."price", o."instrument_currency" AS "price_currency",
                   f."wallet_impact_fx_rate" AS "fx_rate"
            FROM "fills" f
            LEFT JOIN "fees" x USING ("account_id", "fill_id")
            LEFT JOIN "orders" o USING ("account_id", "order_id")
            LEFT JOIN "instruments" i ON i."ticker" = f."ticker"
        ), "report" AS (
            SELECT a."account_id", 'activity:' || a."id" AS "event_id", a."time" AS "at",
                   coalesce(s."ticker", a."ticker") AS "ticker", a."isin",
                   CASE WHEN a."action" LIKE '% buy' THEN 'buy' ELSE 'sell' END AS "kind",
                   CASE WHEN a."action" LIKE '% buy' THEN abs(a."shares")
                        ELSE -abs(a."shares") END AS "signed_quantity",
                   {_REPORT_FEES} AS "fees", abs(a."total") AS "net_value",
                   a."total_currency" AS "currency", a."result" AS "broker_result",
                   a."price_per_share" AS "price", a."price_per_share_currency" AS "price_currency",
                   CAST(NULL AS DECIMAL(38,10)) AS "fx_rate"
            FROM "activity" a LEFT JOIN "isins" s ON s."isin" = a."isin"
            WHERE (a."action" LIKE '% buy' OR a."action" LIKE '% sell')
              AND NOT EXISTS (SELECT 1 FROM "fills" f WHERE f."account_id" = a."account_id"
                                                        AND f."order_id" = a."order_id")
        ), "trades" AS (
            SELECT *, 'api' AS "source" FROM "api" UNION ALL BY NAME
            SELECT *, 'report' AS "source" FROM "report"
        )
        SELECT "account_id", "event_id", "at", coalesce("isin", "ticker") AS "instrument",
               "ticker", "isin", "kind",
               CASE WHEN "kind" = 'adjust' THEN "signed_quantity"
                    ELSE abs("signed_quantity") END AS "quantity",
               CASE WHEN "kind" IN ('buy', 'transfer_in') THEN "net_value" - "fees"
                    WHEN "kind" IN ('sell', 'transfer_out') THEN "net_value" + "fees"
                    ELSE CAST(0 AS DECIMAL(38,10)) END AS "value",
               "fees", "currency", CAST(NULL AS DECIMAL(38,10)) AS "ratio",
               CASE WHEN "kind" = 'sell' THEN "broker_result" END AS "broker_result", "source",
               "price", "price_currency", "fx_rate"
        FROM "trades"
        UNION ALL
        SELECT c."account_id", 'split:' || c."close_id", least(c."close_time", c."open_time"),
               coalesce(c."isin", c."ticker"), coalesce(s."ticker", c."ticker"), c."isin",
               'split', CAST(0 AS DECIMAL(38,10)), CAST(0 AS DECIMAL(38,10)),
               CAST(0 AS DECIMAL(38,10)), NULL, c."ratio", NULL, 'report', NULL, NULL, NULL
        FROM "corporate_actions" c
        LEFT JOIN (SELECT "isin", min("ticker") AS "ticker" FROM "instruments"
                   WHERE "isin" IS NOT NULL GROUP BY ALL) s ON s."isin" = c."isin"
        WHERE c."ratio" > 0""",
    "fx_rates_observed": f"""
        -- every exchange rate the data carries: account currency per unit of another
        SELECT "account_id", CAST(timezone('UTC', "at") AS DATE) AS "day",
               CASE WHEN "price_currency" = 'GBX' THEN 'GBP' ELSE "price_currency" END
                   AS "currency",
               CASE WHEN "fx_rate" IS NOT NULL THEN "fx_rate"
                    ELSE {_implied_rate()} END AS "rate",
               "source" || ' ' || "event_id" AS "source"
        FROM "position_events"
        WHERE "kind" IN ('buy', 'sell') AND "price" > 0 AND "quantity" > 0
          AND "price_currency" IS NOT NULL AND "price_currency" <> "currency"
        QUALIFY row_number() OVER (
            PARTITION BY "account_id", "day", "currency" ORDER BY "at" DESC, "event_id") = 1
    """,
    "holdings_daily": """
        -- per account, instrument and day held: quantity and cost basis
        WITH "spans" AS (
            SELECT *, lead("day") OVER (PARTITION BY "account_id", "instrument" ORDER BY "day")
                          AS "next_day"
            FROM "holding_changes"
        ), "last" AS (
            SELECT greatest(current_date, coalesce(max("snapshot_date"), current_date)) AS "d"
            FROM "positions"
        )
        SELECT s."account_id", CAST(d."day" AS DATE) AS "day", s."ticker", s."isin",
               s."instrument", s."quantity", s."cost_basis", s."cost_basis_with_fees",
               s."currency"
        FROM "spans" s CROSS JOIN "last" l,
             LATERAL (SELECT unnest(generate_series(
                 s."day", coalesce(s."next_day" - 1, l."d"), INTERVAL 1 DAY)) AS "day") d
        WHERE s."quantity" <> 0""",
    "holdings_differences": """
        -- positions snapshots that differ from the rebuilt holding of their day
        WITH "snap" AS (
            SELECT p."account_id", p."snapshot_at", p."snapshot_date", p."ticker",
                   coalesce(p."instrument_isin", i."isin", p."ticker") AS "instrument",
                   p."quantity", p."wallet_impact_total_cost" AS "total_cost"
            FROM "positions" p LEFT JOIN "instruments" i ON i."ticker" = p."ticker"
        ), "rebuilt" AS (
            SELECT * FROM "holdings_daily"
        )
        SELECT coalesce(s."account_id", h."account_id") AS "account_id",
               coalesce(s."snapshot_date", h."day") AS "day",
               coalesce(s."instrument", h."instrument") AS "instrument",
               coalesce(s."ticker", h."ticker") AS "ticker",
               s."quantity" AS "snapshot_quantity", h."quantity" AS "rebuilt_quantity",
               s."total_cost" AS "snapshot_cost", h."cost_basis" AS "rebuilt_cost"
        FROM "snap" s
        FULL OUTER JOIN "rebuilt" h
          ON h."account_id" = s."account_id" AND h."day" = s."snapshot_date"
         AND h."instrument" = s."instrument"
        WHERE coalesce(s."snapshot_date", h."day") IN (
                  SELECT "snapshot_date" FROM "positions" p2
                  WHERE p2."account_id" = coalesce(s."account_id", h."account_id"))
          AND NOT EXISTS (
              SELECT 1 FROM "position_events" e
              WHERE e."account_id" = coalesce(s."account_id", h."account_id")
                AND e."instrument" = coalesce(s."instrument", h."instrument")
                AND CAST(timezone('UTC', e."at") AS DATE) = coalesce(s."snapshot_date", h."day")
                AND e."at" > (SELECT min(p3."snapshot_at") FROM "positions" p3
                              WHERE p3."account_id" = e."account_id"
                                AND p3."snapshot_date" = CAST(timezone('UTC', e."at") AS DATE)))
          AND (s."quantity" IS DISTINCT FROM h."quantity"
               OR abs(round(s."total_cost", 2) - round(h."cost_basis", 2)) >= 0.01)""",
    "realised_gains_differences": """
        -- average-cost disposals whose result differs from Trading 212's
        SELECT "account_id", "disposal_id", "disposed_at", "instrument", "ticker", "quantity",
               "result_before_fees", round("result_before_fees", 2) AS "result_rounded",
               "broker_result", round("result_before_fees", 2) - "broker_result" AS "difference",
               "currency"
        FROM "disposals"
        WHERE "method" = 'average' AND "broker_result" IS NOT NULL
          AND round("result_before_fees", 2) <> "broker_result"
    """,
    "disposals_converted": converted(
        "disposals with their base-currency amounts and the rate each used",
        '"disposals"',
        '"day"',
        ("proceeds", "allowable_costs", "gain"),
    ),
    "realised_gains_by_year": """
        -- disposals, proceeds, costs, gain and loss per account, method and year
        SELECT "account_id", "method", "year", count(*) AS "disposals",
               sum("proceeds") AS "proceeds", sum("allowable_costs") AS "allowable_costs",
               coalesce(sum("gain") FILTER (WHERE "gain" > 0), 0) AS "gain",
               coalesce(-sum("gain") FILTER (WHERE "gain" < 0), 0) AS "loss", "currency",
               any_value("base_currency") AS "base_currency",
               sum("proceeds_base") AS "proceeds_base",
               sum("allowable_costs_base") AS "allowable_costs_base",
               sum("gain_base") FILTER (WHERE "gain_base" > 0) AS "gain_base",
               -sum("gain_base") FILTER (WHERE "gain_base" < 0) AS "loss_base",
               count(*) FILTER (WHERE "base_rate" IS NULL AND "base_currency" IS NOT NULL)
                   AS "unconverted",
               coalesce("wrapper", 'invest') AS "wrapper"
        FROM "disposals_converted"
        GROUP BY "account_id", "method", "year", "currency", coalesce("wrapper", 'invest')
    """,
    "external_flows": f"""
        -- deposits (+) and withdrawals (-): what returns are measured against
        SELECT t."account_id", t."date_time" AS "at", {_utc_day('t."date_time"')} AS "day",
               CASE WHEN t."kind" = 'deposit' THEN abs(t."amount")
                    WHEN t."kind" = 'transfer' THEN t."amount"
                    ELSE -abs(t."amount") END AS "amount",
               t."currency", 'api ' || t."reference" AS "source",
               CASE WHEN t."kind" = 'withdraw' THEN 'withdrawal' ELSE t."kind" END AS "kind"
        FROM "cash_transactions" t
        WHERE t."kind" IN ('deposit', 'withdraw', 'withdrawal', 'transfer')
        UNION ALL
        SELECT a."account_id", a."time", {_utc_day('a."time"')},
               CASE WHEN a."action" = 'Deposit' THEN abs(a."total")
                    WHEN a."action" = 'Transfer' THEN a."total"
                    ELSE -abs(a."total") END,
               a."total_currency", 'report ' || a."id", lower(a."action")
        FROM "activity" a
        WHERE a."action" IN ('Deposit', 'Withdrawal', 'Transfer')
          AND {in_no_transaction("a")}
    """,
    "income_items": f"""
        -- each dividend, interest payment and fee behind income_monthly
        WITH "api_dividends" AS (
            SELECT d."account_id", d."paid_on" AS "at", d."currency",
                   coalesce(d."ticker_currency", d."currency") AS "paid_in",
                   d."amount" AS "net",
                   coalesce({_withholding("r", 'd."amount"')}, 0) AS "withholding",
                   d."ticker", d."instrument_isin" AS "isin", d."quantity" AS "shares"
            FROM "dividends" d
            LEFT JOIN "dividend_reconciliation" m
              ON m."account_id" = d."account_id" AND m."reference" = d."reference"
             AND m."activity_id" IS NOT NULL
            LEFT JOIN "activity" r
              ON r."account_id" = m."account_id" AND r."id" = m."activity_id"
        ), "report_dividends" AS (
            SELECT a."account_id", a."time", a."total_currency",
                   coalesce(a."price_per_share_currency", a."total_currency"), a."total",
                   coalesce({_withholding("a", 'a."total"')}, 0), a."ticker", a."isin",
                   a."shares"
            FROM "activity" a
            WHERE a."action" LIKE 'Dividend (%' AND NOT EXISTS (
                SELECT 1 FROM "dividend_reconciliation" m
                WHERE m."account_id" = a."account_id" AND m."activity_id" = a."id"
                  AND m."reference" IS NOT NULL)
        ), "dividends" AS (
            SELECT * FROM "api_dividends" UNION ALL SELECT * FROM "report_dividends"
        )
        SELECT "account_id", "at", "currency", "paid_in", 'dividend' AS "kind",
               "net" + "withholding" AS "gross", "withholding", "net", "ticker", "isin",
               "shares"
        FROM "dividends"
        UNION ALL
        SELECT "account_id", "time", "total_currency", "total_currency", 'interest',
               "total", 0, "total", NULL, NULL, NULL
        FROM "activity" WHERE "action" IN ('Interest on cash', 'Lending interest')
        UNION ALL
        SELECT "account_id", "date_time", "currency", "currency", 'interest',
               "amount", 0, "amount", NULL, NULL, NULL
        FROM "cash_transactions" WHERE "kind" = 'interest' AND "kind_source" <> 'report'
        UNION ALL
        SELECT "account_id", "at", "currency", "currency", 'fee', "fees", 0, "fees",
               "ticker", "isin", NULL
        FROM "position_events" WHERE "fees" <> 0
        UNION ALL
        SELECT "account_id", "date_time", "currency", "currency", 'fee',
               abs("amount"), 0, abs("amount"), NULL, NULL, NULL
        FROM "cash_transactions" WHERE "kind" = 'fee'
        UNION ALL
        SELECT a."account_id", a."time", a."total_currency", a."total_currency", 'fee',
               abs(a."total"), 0, abs(a."total"), NULL, NULL, NULL
        FROM "activity" a
        WHERE a."action" = 'Fee' AND {in_no_transaction("a")}
    """,
    "income_converted": converted(
        "income items with their base-currency amounts and the rate each used",
        '(SELECT *, CAST(timezone(\'UTC\', "at") AS DATE) AS "day" FROM "income_items")',
        '"day"',
        ("gross", "withholding", "net"),
    ),
    "income_monthly": f"""
        -- per account, month, tax year and currency of payment: dividends, interest, fees
        SELECT "account_id",
               CAST(date_trunc('month', timezone('UTC', "at")) AS DATE) AS "month",
               {tax_year(UK_DAY.format('"at"'))} AS "tax_year", "currency", "paid_in",
               coalesce(sum("gross") FILTER (WHERE "kind" = 'dividend'), 0)
                   AS "dividends_gross",
               coalesce(sum("withholding") FILTER (WHERE "kind" = 'dividend'), 0)
                   AS "withholding_tax",
               coalesce(sum("net") FILTER (WHERE "kind" = 'dividend'), 0)
                   AS "dividends_net",
               coalesce(sum("net") FILTER (WHERE "kind" = 'interest'), 0) AS "interest",
               coalesce(sum("net") FILTER (WHERE "kind" = 'fee'), 0) AS "fees",
               count(*) FILTER (WHERE "kind" = 'dividend') AS "dividend_payments",
               any_value("base_currency") AS "base_currency",
               sum("gross_base") FILTER (WHERE "kind" = 'dividend') AS "dividends_gross_base",
               sum("withholding_base") FILTER (WHERE "kind" = 'dividend')
                   AS "withholding_tax_base",
               sum("net_base") FILTER (WHERE "kind" = 'dividend') AS "dividends_net_base",
               sum("net_base") FILTER (WHERE "kind" = 'interest') AS "interest_base",
               sum("net_base") FILTER (WHERE "kind" = 'fee') AS "fees_base",
               count(*) FILTER (WHERE "base_rate" IS NULL AND "base_currency" IS NOT NULL)
                   AS "unconverted"
        FROM "income_converted"
        GROUP BY "account_id", "month", "tax_year", "currency", "paid_in"
    """,
}
