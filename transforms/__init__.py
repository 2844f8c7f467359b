"""Pure functions from raw Trading 212 records to typed pandas DataFrames, and the table catalogue."""
