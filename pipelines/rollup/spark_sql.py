"""The events stage's SQL, written for DuckDB, as Spark SQL: transpiled by SQLGlot, so the
rollup on Spark runs the very models the build runs, never a second copy of them.

The models keep to what both engines share (tests/pipelines/test_rollup_parity.py holds
them to it); what SQLGlot cannot carry over is adjusted on the syntax tree here:
- `schema.name` becomes the temp view `schema__name` (Spark's temp views have one-part names);
- `as not materialized`, a DuckDB planner hint, is dropped;
- DuckDB's parameters `$name` become Spark's named markers `:name` (SQLGlot's own mapping);
- UBIGINT (DuckDB's hashes), which Spark lacks, becomes DECIMAL(20, 0), which holds it;
- `trim(x)` strips what DuckDB's does, the space separators of Unicode (a no-break space, an
  ideographic space), where Spark's own strips the ASCII space only: an id padded with a
  no-break space is the same user on both engines.
"""
from __future__ import annotations

import sqlglot
from sqlglot import exp

SCHEMAS = ("landing", "staging", "core", "main", "rollup")
# what DuckDB's trim() strips from either end: the ASCII space and Unicode's other space
# separators (category Zs), found by trying every code point; tabs and line breaks stay
DUCKDB_TRIMMED = " \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"


def view_name(qualified_name: str) -> str:
    """The Spark temp view that stands for `schema.name`."""
    schema, name = qualified_name.split(".")
    return f"{schema}__{name}"


def _flatten_tables(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Table) and node.db in SCHEMAS:
        return exp.Table(this=exp.to_identifier(view_name(f"{node.db}.{node.name}")), alias=node.args.get("alias"))
    if isinstance(node, exp.CTE) and node.args.get("materialized") is False:
        node.set("materialized", None)
    if isinstance(node, exp.Trim) and node.args.get("expression") is None and node.args.get("position") is None:
        node.set("expression", exp.Literal.string(DUCKDB_TRIMMED))
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.UBIGINT:
        return exp.DataType.build("DECIMAL(20, 0)")
    return node


def to_spark(duckdb_sql: str) -> str:
    """One DuckDB SELECT as Spark SQL."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    return tree.transform(_flatten_tables).sql(dialect="spark")
