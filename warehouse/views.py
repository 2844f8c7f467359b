"""Analysis views over the warehouse tables; money stays DECIMAL throughout.

- ``positions_latest``: the newest positions snapshot of each account. An
  account whose newest snapshot held nothing shows its last non-empty one,
  since an empty snapshot leaves no rows.
- ``dividend_reconciliation``: each JSON dividend beside its CSV report row, matched
  by account, UTC date and instrument (ISIN, else ticker); either side may be missing.
- ``order_reconciliation``: each fill beside the report row of its order (by order id)
  with shares, totals, stamp duty and conversion fees from both sources.
- ``dividends_monthly``: per account, calendar month (UTC) and currency. The
  API's ``amount`` is what was paid in after withholding: ``net_amount``. The
  reports add ``withholding_tax`` (where in the dividend's currency), and
  ``gross_amount`` = net + withholding; without reports gross equals net.
  ``payments_in_reports`` counts the payments a report row was found for.
- ``cash_activity_monthly``: from the reports, per account, month, kind and
  currency: interest on cash, withholding tax, stamp duty, conversion and other
  fees, as positive amounts the way the report shows them.
- ``reconciliation_differences``: where the JSON history and the reports disagree,
  one row per difference; rows missing on one side count only inside the time
  the other side covers.
- ``dividend_income_by_ticker``: income over the trailing twelve months and all
  time, the cost basis of the current holding (``wallet_impact_total_cost`` of
  ``positions_latest``) and ``yield_on_cost`` = trailing income / cost, truncated
  to 10 decimal places and computed exactly in integers (DuckDB would divide
  decimals as DOUBLE); NULL without a holding or when currencies differ.
- ``portfolio_value_daily``: the last account summary of each day per account,
  with ``cash`` = available to trade + in pies + reserved for orders.
- ``cash_transactions``: every API transaction with its ``kind`` (``interest``,
  ``deposit``, ``withdrawal``, ``fee``, ...) and where the kind comes from
  (``kind_source``): ``report`` when a CSV report row matches it (the same ID, or the
  same second and amount), else ``estimate`` for a deposit under 10 (Trading 212 pays
  interest on cash as small deposits the API does not tell apart), else ``api``.
- ``corporate_actions``: each ``Stock split close`` of the reports paired with its
  ``Stock split open`` (either order, any file, at most a second apart, same account
  and ISIN or ticker; each half in one pair at most, the nearest): shares before and
  after and ``ratio`` = after / before, truncated to 10 decimal places and computed
  exactly in integers. ``corporate_actions_unpaired`` lists the halves with no partner,
  so a missing file shows.
"""

from __future__ import annotations

import hashlib

import duckdb

from warehouse.bookkeeping import SETTINGS
from warehouse.coverage_views import COVERAGE_VIEWS
from warehouse.matches import split_pairs, transaction_pairs
from warehouse.portfolio_views import PORTFOLIO_VIEWS
from warehouse.tax_views import TAX_VIEWS

_SCALE = 10_000_000_000  # 10 ** DECIMAL_SCALE
# Deposits under this amount with no report row to tell are taken for interest on cash.
INTEREST_LIKE_BELOW = 10
_DAY = "CAST(timezone('UTC', {}) AS DATE)"
_NULL = "CAST(NULL AS DECIMAL(38,10))"
# what cash_transactions takes of each transaction and report row matched
_PAIR = (
    't."account_id", t."reference", r."action", '
    'r."report_id" = t."reference" AS "by_reference", r."id"'
)
# (kind, report column) of the charges ``cash_activity_monthly`` lists
_CHARGES = (
    ("withholding_tax", "withholding_tax"),
    ("stamp_duty", "stamp_duty"),
    ("stamp_duty", "stamp_duty_reserve_tax"),
    ("currency_conversion_fee", "currency_conversion_fee"),
    ("french_transaction_tax", "french_transaction_tax"),
    ("finra_fee", "finra_fee"),
    ("transaction_fee", "transaction_fee"),
    ("deposit_fee", "deposit_fee"),
)
_INTEREST = (("interest", "Interest on cash"), ("lending_interest", "Lending interest"))


def _cash_items() -> str:
    """One SELECT per interest action and per charge column of ``activity``."""
    interest = [
        f"""SELECT "account_id", "time", '{kind}' AS "kind", "total" AS "amount",
                   "total_currency" AS "currency" FROM "activity" WHERE "action" = '{action}'"""
        for kind, action in _INTEREST
    ]
    charges = [
        f"""SELECT "account_id", "time", '{kind}', "{column}", "{column}_currency"
            FROM "activity" WHERE "{column}" <> 0"""
        for kind, column in _CHARGES
    ]
    return "\n            UNION ALL ".join(interest + charges)


# Where the reports cover a time (``c`` is the account's coverage row).
_COVERS = (
    'EXISTS (SELECT 1 FROM "activity_coverage" c WHERE c."account_id" = m."account_id" '
    'AND {} BETWEEN c."{}" AND c."{}")'
)
_DIV = 'm."reference" IS NOT NULL AND m."activity_id" IS NOT NULL'
_FILL = 'm."fill_id" IS NOT NULL AND m."activity_id" IS NOT NULL'
_SAME = 'm."currency" = m."report_currency"'
# (source, field, API value, report value, note, condition) per kind of difference
_DIFFERENCES = (
    ("dividend", "row", None, None, "in the API, not in the reports",
     'm."activity_id" IS NULL AND ' + _COVERS.format('m."paid_on"', "first_at", "last_at")),
    ("dividend", "row", None, None, "in the reports, not in the API",
     'm."reference" IS NULL AND '
     + _COVERS.format('m."report_time"', "first_dividend_at", "last_dividend_at")),
    ("dividend", "amount", "amount", "report_total", "net amount differs",
     f'{_DIV} AND {_SAME} AND m."amount" <> m."report_total"'),
    ("dividend", "currency", None, None, "paid in another currency",
     f"{_DIV} AND NOT {_SAME}"),
    ("dividend", "withholding_tax", None, "withholding_tax",
     "withheld in another currency: not in gross_amount",
     f'{_DIV} AND m."withholding_tax" <> 0 AND m."withholding_tax_currency" <> m."currency"'),
    ("order", "row", None, None, "filled in the API, not in the reports",
     'm."activity_id" IS NULL AND ' + _COVERS.format('m."filled_at"', "first_at", "last_at")),
    ("order", "row", None, None, "in the reports, not filled in the API",
     'm."fill_id" IS NULL AND '
     + _COVERS.format('m."report_time"', "first_fill_at", "last_fill_at")),
    ("order", "shares", "shares", "report_shares", "shares differ",
     f'{_FILL} AND m."shares" <> m."report_shares"'),
    *(
        ("order", name, name, f"report_{name}", f"{name.replace('_', ' ')} differs",
         f'{_FILL} AND {_SAME} AND coalesce(m."{name}", 0) <> coalesce(m."report_{name}", 0)')
        for name in ("total", "stamp_duty_reserve_tax", "currency_conversion_fee")
    ),
)  # fmt: skip


def _differences() -> str:
    """Each way the JSON history and the reports can disagree, as one SELECT."""
    selects = []
    for source, field, api, report, note, condition in _DIFFERENCES:
        key = 'm."reference"' if source == "dividend" else 'CAST(m."order_id" AS VARCHAR)'
        values = [f'm."{v}"' if v else _NULL for v in (api, report)]
        selects.append(
            f"""SELECT m."account_id", '{source}' AS "source", {key} AS "key",
                   m."activity_id", '{field}' AS "field", {values[0]} AS "api_value",
                   {values[1]} AS "report_value", '{note}' AS "note"
            FROM "{source}_reconciliation" m WHERE {condition}"""
        )
    return "\n        UNION ALL ".join(selects)


VIEWS: dict[str, str] = {
    "positions_latest": """
        -- the newest positions snapshot per account
        SELECT p.* FROM "positions" p
        WHERE p."snapshot_at" = (
            SELECT max(l."snapshot_at") FROM "positions" l WHERE l."account_id" = p."account_id"
        )""",
    "dividend_reconciliation": f"""
        -- JSON dividends (by instrument and date) beside their report rows
        WITH "api" AS (
            SELECT d.*, {_DAY.format('d."paid_on"')} AS "day",
                   coalesce(d."instrument_isin", i."isin", d."ticker") AS "instrument_key"
            FROM "dividends" d LEFT JOIN "instruments" i ON i."ticker" = d."ticker"
        ), "report" AS (
            SELECT a.*, {_DAY.format('a."time"')} AS "day",
                   coalesce(a."isin", a."ticker") AS "instrument_key"
            FROM "activity" a WHERE a."action" LIKE 'Dividend (%'
        ), "api_n" AS (
            SELECT *, row_number() OVER (PARTITION BY "account_id", "day", "instrument_key"
                                         ORDER BY "amount", "reference") AS "n" FROM "api"
        ), "report_n" AS (
            SELECT *, row_number() OVER (PARTITION BY "account_id", "day", "instrument_key"
                                         ORDER BY "total", "id") AS "n" FROM "report"
        )
        SELECT coalesce(d."account_id", r."account_id") AS "account_id",
               d."reference", r."id" AS "activity_id",
               coalesce(d."ticker", r."ticker") AS "ticker",
               coalesce(d."day", r."day") AS "date", d."paid_on", r."time" AS "report_time",
               d."amount", d."currency", r."total" AS "report_total",
               r."total_currency" AS "report_currency",
               r."withholding_tax", r."withholding_tax_currency"
        FROM "api_n" d FULL OUTER JOIN "report_n" r
          ON d."account_id" = r."account_id" AND d."day" = r."day"
         AND d."instrument_key" = r."instrument_key" AND d."n" = r."n"
        """,
    "order_reconciliation": """
        -- fills (by order id) beside their report rows
        WITH "taxes" AS (
            SELECT "account_id", "fill_id",
                   -sum("quantity") FILTER (WHERE "name" = 'STAMP_DUTY_RESERVE_TAX') AS "sdrt",
                   -sum("quantity") FILTER (WHERE "name" = 'CURRENCY_CONVERSION_FEE') AS "fx_fee"
            FROM "fill_taxes" GROUP BY ALL
        ), "api" AS (
            SELECT f."account_id", f."order_id", f."fill_id", f."filled_at",
                   abs(f."quantity") AS "shares", f."wallet_impact_net_value" AS "total",
                   f."wallet_impact_currency" AS "currency", t."sdrt", t."fx_fee"
            FROM "fills" f LEFT JOIN "taxes" t USING ("account_id", "fill_id")
        ), "report" AS (SELECT * FROM "activity" WHERE "order_id" IS NOT NULL)
        SELECT coalesce(f."account_id", r."account_id") AS "account_id",
               coalesce(f."order_id", r."order_id") AS "order_id", f."fill_id",
               r."id" AS "activity_id", f."filled_at", r."time" AS "report_time",
               f."shares", r."shares" AS "report_shares", f."total", f."currency",
               r."total" AS "report_total", r."total_currency" AS "report_currency",
               f."sdrt" AS "stamp_duty_reserve_tax",
               r."stamp_duty_reserve_tax" AS "report_stamp_duty_reserve_tax",
               f."fx_fee" AS "currency_conversion_fee",
               r."currency_conversion_fee" AS "report_currency_conversion_fee"
        FROM "api" f FULL OUTER JOIN "report" r
          ON f."account_id" = r."account_id" AND f."order_id" = r."order_id"
        """,
    "dividends_monthly": """
        -- per account, month and currency: gross, withholding tax, net, payments
        SELECT d."account_id",
               CAST(date_trunc('month', timezone('UTC', d."paid_on")) AS DATE) AS "month",
               d."currency",
               sum(d."amount" + coalesce(m."withholding_tax", 0)) AS "gross_amount",
               sum(d."amount") AS "net_amount",
               count(*) AS "payments",
               coalesce(sum(m."withholding_tax"), CAST(0 AS DECIMAL(38,10))) AS "withholding_tax",
               count(m."activity_id") AS "payments_in_reports"
        FROM "dividends" d
        LEFT JOIN "dividend_reconciliation" m
          ON m."account_id" = d."account_id" AND m."reference" = d."reference"
         AND m."activity_id" IS NOT NULL
         AND coalesce(m."withholding_tax_currency", d."currency") = d."currency"
        GROUP BY ALL""",
    "cash_activity_monthly": f"""
        -- from the reports: interest, withholding, stamp duty and fees per month
        WITH "items" AS (
            {_cash_items()}
        )
        SELECT "account_id",
               CAST(date_trunc('month', timezone('UTC', "time")) AS DATE) AS "month",
               "kind", "currency", sum("amount") AS "amount", count(*) AS "rows"
        FROM "items" GROUP BY ALL""",
    "reconciliation_differences": f"""
        -- one row per disagreement between the JSON history and the reports
        WITH "activity_coverage" AS (
            SELECT a."account_id", min(a."time") AS "first_at", max(a."time") AS "last_at",
                   (SELECT min("paid_on") FROM "dividends" d
                    WHERE d."account_id" = a."account_id") AS "first_dividend_at",
                   (SELECT max("paid_on") FROM "dividends" d
                    WHERE d."account_id" = a."account_id") AS "last_dividend_at",
                   (SELECT min("filled_at") FROM "fills" f
                    WHERE f."account_id" = a."account_id") AS "first_fill_at",
                   (SELECT max("filled_at") FROM "fills" f
                    WHERE f."account_id" = a."account_id") AS "last_fill_at"
            FROM "activity" a GROUP BY a."account_id"
        )
        {_differences()}""",
    "dividend_income_by_ticker": f"""
        -- trailing-twelve-month and all-time income, cost basis, yield on cost
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
        -- per account and day: total value, invested, cost and cash
        SELECT "account_id", "snapshot_date" AS "date", "currency", "total_value",
               "investments_current_value", "investments_total_cost",
               coalesce("cash_available_to_trade", 0) + coalesce("cash_in_pies", 0)
                   + coalesce("cash_reserved_for_orders", 0) AS "cash",
               "snapshot_at"
        FROM "account_summaries"
        QUALIFY row_number() OVER (
            PARTITION BY "account_id", "snapshot_date" ORDER BY "snapshot_at" DESC
        ) = 1""",
    "cash_transactions": f"""
        -- every API transaction with its kind (interest, deposit, fee, ...) and source
        WITH "pairs" AS (
        {transaction_pairs(_PAIR)}
        ), "matched" AS (
            SELECT "account_id", "reference", "action" FROM "pairs"
            QUALIFY row_number() OVER (PARTITION BY "account_id", "reference"
                                       ORDER BY "by_reference" DESC, "id") = 1
        )
        SELECT t."account_id", t."reference", t."date_time", t."amount", t."currency", t."type",
               CASE WHEN m."action" IS NOT NULL
                        THEN replace(lower(m."action"), ' on cash', '')
                    WHEN t."type" = 'DEPOSIT' AND t."amount" < {INTEREST_LIKE_BELOW}
                        THEN 'interest'
                    ELSE lower(t."type") END AS "kind",
               CASE WHEN m."action" IS NOT NULL THEN 'report'
                    WHEN t."type" = 'DEPOSIT' AND t."amount" < {INTEREST_LIKE_BELOW}
                        THEN 'estimate'
                    ELSE 'api' END AS "kind_source"
        FROM "transactions" t
        LEFT JOIN "matched" m ON m."account_id" = t."account_id" AND m."reference" = t."reference"
        """,
    "corporate_actions": f"""
        -- each stock split's close and open halves paired: shares before, after, ratio
        WITH "halves" AS (
            SELECT * FROM "activity"
            WHERE "action" IN ('Stock split close', 'Stock split open')
        ), "pairs" AS (
            {split_pairs()}
        ), "candidates" AS (
            SELECT * FROM "pairs"
            QUALIFY row_number() OVER (
                PARTITION BY "account_id", "close_id" ORDER BY "gap_ms", "open_id") = 1
        )
        SELECT "account_id", "isin", "ticker", "close_time", "open_time",
               "shares_before", "shares_after",
               CASE WHEN "shares_before" > 0 THEN
                   CAST(CAST("shares_after" * {_SCALE} AS HUGEINT) * {_SCALE}
                        // CAST("shares_before" * {_SCALE} AS HUGEINT) AS DECIMAL(38,0))
                   * CAST('0.0000000001' AS DECIMAL(38,10))
               END AS "ratio",
               "close_id", "open_id"
        FROM "candidates"
        QUALIFY row_number() OVER (
            PARTITION BY "account_id", "open_id" ORDER BY "gap_ms", "close_id") = 1""",
    "corporate_actions_unpaired": """
        -- split halves with no partner: a report file is missing
        SELECT a."account_id", a."action", a."time", a."isin", a."ticker", a."shares", a."id"
        FROM "activity" a
        WHERE a."action" IN ('Stock split close', 'Stock split open')
          AND NOT EXISTS (SELECT 1 FROM "corporate_actions" p
                          WHERE p."account_id" = a."account_id"
                            AND a."id" IN (p."close_id", p."open_id"))""",
}


# Every view in creation order, the portfolio model's after the others: each reads only
# tables and the views before it. The warehouse creates them; the reference page lists them.
ALL_VIEWS: dict[str, str] = {**VIEWS, **PORTFOLIO_VIEWS, **TAX_VIEWS, **COVERAGE_VIEWS}
# the setting naming the definitions a database's views were last created from
VIEWS_SETTING = "views"


def description(body: str) -> str:
    """The one-line description a view's definition starts with (``-- ...``)."""
    first = body.strip().splitlines()[0]
    if not first.startswith("-- "):
        raise ValueError(f"a view definition starts without its description: {first!r}")
    return first[3:]


def comment_sql(kind: str, name: str, text: str) -> str:
    """A ``COMMENT ON`` statement: readers (BI tools, the MCP server) show it beside the name."""
    quoted = text.replace("'", "''")
    return f"COMMENT ON {kind} \"{name}\" IS '{quoted}'"


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create or replace every analysis view in order, with its description as its comment."""
    for name, body in ALL_VIEWS.items():
        con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {body}')
        con.execute(comment_sql("VIEW", name, description(body)))


def refresh_views(con: duckdb.DuckDBPyConnection) -> None:
    """:func:`create_views`, unless the database's views are these definitions already.

    A fingerprint of the definitions is kept in ``settings``, and each view must be there
    with its description as its comment, so one dropped or replaced by hand is created
    again. Creating them takes 0.13 s, a tenth of a quiet nightly run.
    """
    made = con.execute(
        f'SELECT value FROM "{SETTINGS.name}" WHERE name = ?', [VIEWS_SETTING]
    ).fetchall()
    present = dict(
        con.execute(
            "SELECT view_name, comment FROM duckdb_views() "
            "WHERE NOT internal AND database_name = current_database()"
        ).fetchall()
    )
    wanted = _fingerprint()
    if made == [(wanted,)] and all(
        present.get(name) == description(body) for name, body in ALL_VIEWS.items()
    ):
        return
    create_views(con)
    con.execute(f'INSERT OR REPLACE INTO "{SETTINGS.name}" VALUES (?, ?)', [VIEWS_SETTING, wanted])


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name, body in ALL_VIEWS.items():
        digest.update(f"{name}\0{body}\0".encode())
    return digest.hexdigest()
