"""The events stage on its own: which input items and which of the build's models count the
events, so that `adoption rollup` runs exactly those, on either engine."""
from __future__ import annotations

from pathlib import Path

import sqlglot
from sqlglot import exp

from pipelines.load.input_files import InputFolder
from pipelines.sql_runner import Model, load_models

# Events are checked against the users, and users against the sites.
STAGE_ITEMS = ("sites", "users", "events")
# What the stage hands on: the counts, and the event rows it could not use.
STAGE_OUTPUTS = {"core.user_event_days", "core.event_quarantine"}
# Items the rollup leaves to the build, copied beside event_days as they are.
OTHER_ITEMS = ("sites", "users", "tickets", "trainings", "features")

OUTPUT_SQL = Path(__file__).parent / "sql"


def stage_models(models: list[Model] | None = None) -> list[Model]:
    """The models STAGE_OUTPUTS read, directly or not, themselves included; in dependency order."""
    models = load_models() if models is None else models
    by_name = {model.qualified_name: model for model in models}
    needed, todo = set(), list(STAGE_OUTPUTS)
    while todo:
        name = todo.pop()
        if name in by_name and name not in needed:
            needed.add(name)
            todo += by_name[name].reads
    return [model for model in models if model.qualified_name in needed]


def landing_reads(models: list[Model]) -> set[str]:
    """The landing tables the models read (the runner's reads cover the model layers only)."""
    return {
        table.name
        for model in models
        for table in sqlglot.parse_one(model.sql, read="duckdb").find_all(exp.Table)
        if table.db == "landing"
    }


def stage_folder(folder: InputFolder) -> InputFolder:
    """The input files the stage reads."""
    return InputFolder([file for file in folder.files if file.item in STAGE_ITEMS])


def output_sql(name: str) -> str:
    """The SELECT behind one of the rollup's output files (sql/<name>.sql)."""
    return (OUTPUT_SQL / f"{name}.sql").read_text()
