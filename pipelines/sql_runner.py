"""Run the SQL models in `pipelines/sql/<schema>/<table>.sql` in dependency order.

A model file holds one SELECT. Its folder is its schema and its file name its table;
it depends on every other model it names as `schema.table`. Staging models and any
model whose file starts with `-- materialized: view` become views; the rest tables.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb

SQL_ROOT = Path(__file__).parent / "sql"
LAYERS = ("staging", "core", "main")
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Model:
    schema: str
    name: str
    sql: str

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def materialized(self) -> str:
        is_view = self.schema == "staging" or self.sql.startswith("-- materialized: view")
        return "view" if is_view else "table"

    @property
    def description(self) -> str:
        """The header comment: what the model holds, its grain and key."""
        header = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            text = line.removeprefix("--").strip()
            if not text.startswith("materialized:"):
                header.append(text)
        return " ".join(header)


def bound(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of `params` that `sql` names as `$name`; DuckDB rejects unused ones."""
    return {name: params[name] for name in set(_PARAM.findall(sql))}


def load_models(root: Path = SQL_ROOT) -> list[Model]:
    """Every model under root, each after the models it reads from."""
    models = {
        f"{layer}.{path.stem}": Model(layer, path.stem, path.read_text())
        for layer in LAYERS
        for path in sorted((root / layer).glob("*.sql"))
    }
    graph = {
        name: {other for other in models if other != name and re.search(rf"\b{re.escape(other)}\b", model.sql)}
        for name, model in models.items()
    }
    return [models[name] for name in TopologicalSorter(graph).static_order()]


def run_models(
    con: duckdb.DuckDBPyConnection,
    params: Mapping[str, Any],
    on_model: Callable[[Model], None] = lambda model: None,
) -> list[Model]:
    models = load_models()
    for schema in LAYERS:
        con.execute(f"create schema if not exists {schema}")
    for model in models:
        on_model(model)
        con.execute(
            f"create or replace {model.materialized} {model.qualified_name} as\n{model.sql}",
            bound(model.sql, params),
        )
    return models
