-- Never download or load a DuckDB extension: no step may need the network.
SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
ATTACH '${T212_DATA_DIR}/warehouse.duckdb' AS warehouse (READ_ONLY);
-- Interest, taxes and fees of the broker's CSV reports per account, month and kind.
-- Every account has a row (month NULL without report rows): Evidence cannot build a
-- page on a source query that returned no rows.
WITH accounts AS (SELECT DISTINCT account_id FROM warehouse.main.account_summaries)
SELECT
    a.account_id::VARCHAR AS account,
    c.month,
    c.currency,
    c.kind,
    CASE
        WHEN c.kind IS NULL THEN NULL
        WHEN c.kind IN ('interest', 'lending_interest') THEN 'interest'
        WHEN c.kind = 'withholding_tax' THEN 'withholding tax'
        ELSE 'fees'
    END AS category,
    c.amount::DOUBLE AS amount,
    c.rows AS transactions
FROM accounts AS a
LEFT JOIN warehouse.main.cash_activity_monthly AS c USING (account_id)
ORDER BY c.month, account, c.currency, c.kind
