"""Write the contract's table and column descriptions into the file as COMMENTs."""
from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import duckdb

DOCS_FILE = Path(__file__).with_name("table_docs.toml")


@cache
def table_docs() -> dict[str, dict]:
    return tomllib.loads(DOCS_FILE.read_text())


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_tables(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """COMMENT ON each named table and its documented columns (schema main)."""
    docs = table_docs()
    for table in tables:
        doc = docs[table]
        con.execute(f"comment on table main.{table} is {_literal(doc['description'])}")
        for column, text in doc["columns"].items():
            con.execute(f'comment on column main.{table}."{column}" is {_literal(text)}')


def comment_models(con: duckdb.DuckDBPyConnection, models: list) -> None:
    """COMMENT ON the internal staging and core models, from their header comments."""
    for model in models:
        if model.schema != "main" and model.description:
            con.execute(f"comment on {model.kind} {model.qualified_name} is {_literal(model.description)}")
