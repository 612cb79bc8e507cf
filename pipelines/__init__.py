"""Input files to DuckDB: load, validate, quarantine, and the SQL models."""
