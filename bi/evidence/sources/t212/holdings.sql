-- Never download or load a DuckDB extension: no step may need the network.
SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
ATTACH '${T212_DATA_DIR}/warehouse.duckdb' AS warehouse (READ_ONLY);
-- Every account has a row (ticker NULL without positions): Evidence cannot build a page
-- on a source query that returned no rows.
WITH accounts AS (SELECT DISTINCT account_id FROM warehouse.main.account_summaries)
SELECT
    a.account_id::VARCHAR AS account,
    p.snapshot_date,
    p.ticker,
    coalesce(i.name, p.instrument_name) AS name,
    coalesce(i.type, 'UNKNOWN') AS type,
    p.quantity::DOUBLE AS quantity,
    p.wallet_impact_currency AS currency,
    p.wallet_impact_current_value::DOUBLE AS value,
    p.wallet_impact_total_cost::DOUBLE AS cost,
    p.wallet_impact_unrealized_profit_loss::DOUBLE AS unrealized_pl
FROM accounts AS a
LEFT JOIN warehouse.main.positions_latest AS p USING (account_id)
LEFT JOIN warehouse.main.instruments AS i ON i.ticker = p.ticker
ORDER BY account, value DESC, p.ticker
