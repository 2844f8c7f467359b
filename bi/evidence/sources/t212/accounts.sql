-- Never download or load a DuckDB extension: no step may need the network.
SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
ATTACH '${T212_DATA_DIR}/warehouse.duckdb' AS warehouse (READ_ONLY);
-- The newest account summary of each account: one row per exported account.
SELECT
    account_id::VARCHAR AS account,
    currency,
    date AS snapshot_date,
    total_value::DOUBLE AS total_value,
    investments_current_value::DOUBLE AS investments,
    cash::DOUBLE AS cash
FROM warehouse.main.portfolio_value_daily
QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY date DESC) = 1
ORDER BY account
