"""Run the SQL models in `pipelines/sql/<schema>/<table>.sql` in dependency order.

A model file holds one SELECT. Its folder is its schema and its file name its name; it
reads every `staging.`, `core.` or `main.` name it mentions, and runs after the models
among them. The first line may say how it is kept:
- `-- materialized: view` (and every staging model): a view;
- `-- materialized: macro(name, ...)`: a DuckDB table macro taking those parameters, for a
  query asked at several weeks (the backtest scores past weeks), called as
  `select * from core.user_facts($window_end)`; its body names them bare, and a parameter
  hides a column of the same name;
- nothing: a table.

Some models read what a Python stage writes after the SQL has run (`core.site_facts` reads
`main.user_status`). DuckDB binds a view or a table macro when it is created, so such a model
cannot be created with the others, nor lazily left for its caller. Instead `run_models`
creates the models whose reads exist and hands back the rest, and the build calls it again
with them after each stage: a model is created as soon as the tables it reads are there,
still after the models it reads, and before the next stage (the one that reads it comes
later in the stage list). Whatever the model is (table, view or macro), the same rule holds;
a model whose input no stage writes keeps waiting (a build without stages has no site facts).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb

SQL_ROOT = Path(__file__).parent / "sql"
LAYERS = ("staging", "core", "main")
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")
_READ = re.compile(rf"\b(?:{'|'.join(LAYERS)})\.\w+\b")
_MATERIALIZED = re.compile(r"-- materialized: (\w+)(?:\((.*)\))?")


@dataclass(frozen=True)
class Model:
    schema: str
    name: str
    sql: str

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def _header(self) -> re.Match | None:
        return _MATERIALIZED.match(self.sql)

    @property
    def materialized(self) -> str:
        """view, table or macro."""
        if self.schema == "staging":
            return "view"
        return self._header.group(1) if self._header else "table"

    @property
    def parameters(self) -> list[str]:
        """A macro's parameters, in the order it takes them."""
        names = self._header.group(2) if self._header and self._header.group(2) else ""
        return [name.strip() for name in names.split(",") if name.strip()]

    @property
    def kind(self) -> str:
        """What the catalog calls it, as in `comment on <kind>`."""
        return "macro table" if self.materialized == "macro" else self.materialized

    @property
    def reads(self) -> set[str]:
        """Every `schema.name` it mentions, other models and stage outputs alike."""
        return set(_READ.findall(self.sql)) - {self.qualified_name}

    @property
    def create_sql(self) -> str:
        if self.materialized == "macro":
            return f"create or replace macro {self.qualified_name}({', '.join(self.parameters)}) as table\n{self.sql}"
        return f"create or replace {self.materialized} {self.qualified_name} as\n{self.sql}"

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
    graph = {name: model.reads & models.keys() for name, model in models.items()}
    return [models[name] for name in TopologicalSorter(graph).static_order()]


def _existing(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables, views and table macros of the connection's own database, as `schema.name`."""
    rows = con.execute(
        """select schema_name || '.' || table_name from duckdb_tables() where database_name = current_database()
        union all
        select schema_name || '.' || view_name from duckdb_views() where database_name = current_database()
        union all
        select schema_name || '.' || function_name from duckdb_functions()
        where database_name = current_database() and function_type = 'table_macro'"""
    ).fetchall()
    return {name for (name,) in rows}


def run_models(
    con: duckdb.DuckDBPyConnection,
    params: Mapping[str, Any],
    on_model: Callable[[Model], None] = lambda model: None,
    models: Collection[Model] | None = None,
) -> list[Model]:
    """Create `models` (every model by default), in dependency order, except those that read a
    table not there yet (one a later stage writes, or a model that waits for one): those it
    returns, still in order, for the next call."""
    models = load_models() if models is None else models
    for schema in LAYERS:
        con.execute(f"create schema if not exists {schema}")
    existing, waiting = _existing(con), []
    for model in models:
        if not model.reads <= existing:
            waiting.append(model)
            continue
        on_model(model)
        con.execute(model.create_sql, bound(model.sql, params))
        existing.add(model.qualified_name)
    return waiting
