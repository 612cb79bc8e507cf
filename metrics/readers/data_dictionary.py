"""The data dictionary, read back from the COMMENTs in a built file, so it cannot drift.

`python -m metrics.readers.data_dictionary PATH` prints it as Markdown; the README's copy is this
output (a test rebuilds the demo and compares).
"""
from __future__ import annotations

import sys

import duckdb
import polars as pl

from metrics.readers.catalog import column_comments, table_comments
from metrics.readers.store import reading


def markdown(con: duckdb.DuckDBPyConnection) -> str:
    lines = []
    columns = column_comments(con)
    for table, comment in table_comments(con).iter_rows():
        lines += [f"### `{table}`", "", comment or "", "", "| column | type | meaning |", "|---|---|---|"]
        for _, column, data_type, text in columns.filter(pl.col("table_name") == table).iter_rows():
            lines.append(f"| `{column}` | {data_type} | {text or ''} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    with reading(sys.argv[1]) as connection:
        print(markdown(connection), end="")
