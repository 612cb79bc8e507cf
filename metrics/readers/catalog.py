"""Which of the contract's tables a built file holds, and what its comments say of them.

Later build stages add tables (site_health, training_effect, training_survival), and an
older file or a build without those stages lacks them: a page asks first and says so in
plain words, instead of failing on a missing table.
"""
from __future__ import annotations

import duckdb
import polars as pl


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True when the contract's schema (main) holds `table`.

    Binding an empty query costs well under a millisecond; the catalog views
    (duckdb_tables(), information_schema) cost some 10 ms on a fresh connection,
    and every request opens a fresh one.
    """
    name = '"' + table.replace('"', '""') + '"'
    try:
        con.execute(f"select 1 from main.{name} limit 0").fetchall()
    except duckdb.CatalogException:
        return False
    return True


def table_comments(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every table of the contract (schema main) with its comment."""
    return con.sql(
        "select table_name, comment from duckdb_tables() where schema_name = 'main' order by table_name"
    ).pl()


def column_comments(con: duckdb.DuckDBPyConnection, table: str | None = None) -> pl.DataFrame:
    """Every column of the contract's tables (or of one) with its type and comment."""
    return con.sql(
        """select table_name, column_name, data_type, comment from duckdb_columns()
        where schema_name = 'main' and ($table is null or table_name = $table)
        order by table_name, column_index""",
        params={"table": table},
    ).pl()
