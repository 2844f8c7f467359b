-- Never download or load a DuckDB extension: no step may need the network.
SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
ATTACH '${T212_DATA_DIR}/warehouse.duckdb' AS warehouse (READ_ONLY);
-- Every account has a row (month NULL without dividends): Evidence cannot build a page
-- on a source query that returned no rows.
WITH accounts AS (SELECT DISTINCT account_id FROM warehouse.main.account_summaries)
SELECT
    a.account_id::VARCHAR AS account,
    d.month,
    d.currency,
    d.gross_amount::DOUBLE AS gross,
    coalesce(d.withholding_tax, 0)::DOUBLE AS withholding_tax,
    d.net_amount::DOUBLE AS net,
    d.payments
FROM accounts AS a
LEFT JOIN warehouse.main.dividends_monthly AS d USING (account_id)
ORDER BY d.month, account, d.currency
