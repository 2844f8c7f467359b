"""Pure functions from raw Trading 212 records to typed DataFrames, and the table catalogue."""
