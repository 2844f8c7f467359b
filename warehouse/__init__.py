"""Storage: raw landing zone, DuckDB tables and views, Parquet datasets, load state and run log."""
