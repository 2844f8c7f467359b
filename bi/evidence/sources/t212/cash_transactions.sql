-- Never download or load a DuckDB extension: no step may need the network.
SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
ATTACH '${T212_DATA_DIR}/warehouse.duckdb' AS warehouse (READ_ONLY);
-- Cash movements of the API per account, month (UTC) and kind. Every account has a row
-- (month NULL without transactions): Evidence cannot build a page on an empty result.
WITH accounts AS (SELECT DISTINCT account_id FROM warehouse.main.account_summaries)
SELECT
    a.account_id::VARCHAR AS account,
    date_trunc('month', timezone('UTC', t.date_time))::DATE AS month,
    t.currency,
    t.kind,
    sum(t.amount)::DOUBLE AS amount,
    count(t.reference) AS transactions,
    count(*) FILTER (WHERE t.kind_source = 'estimate') AS estimated
FROM accounts AS a
LEFT JOIN warehouse.main.cash_transactions AS t USING (account_id)
GROUP BY ALL
ORDER BY month, account, t.currency, t.kind
