"""The events stage on DuckDB: the build's own loader and models, then the rollup's files."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.build import MEMORY_LIMIT
from pipelines.load.carried_quarantine import QUARANTINE_FILE
from pipelines.load.input_files import InputFolder
from pipelines.load.landing import FileLoad, load_folder
from pipelines.rollup.stage import output_sql, stage_models
from pipelines.sql_runner import run_models


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def roll_up(folder: InputFolder, built_at: datetime, work: Path, target: Path) -> list[FileLoad]:
    """Load the stage's files, run its models and write event_days/ and the quarantined rows
    into target; scratch databases go to work."""
    con = duckdb.connect(str(work / "stage.duckdb"))
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
        con.execute("set temp_directory = ?", [str(work / "spill")])
        con.execute("set checkpoint_threshold = '1TB'")  # scratch, deleted after: nothing to save on the way
        con.execute("attach ? as landing", [str(work / "landing.duckdb")])
        loads = load_folder(con, folder, built_at)
        run_models(con, {}, models=stage_models())
        con.execute("create schema rollup")
        con.execute("create table rollup.event_files as select unnest(?::varchar[]) as source_file",
                    [[str(file.path) for file in folder.of("events")]])
        con.execute(f"copy ({output_sql('event_days_item')}) to {_literal(str(target / 'event_days'))} "
                    "(format parquet, partition_by (month))")
        con.execute(f"copy ({output_sql('quarantine_item')}) to {_literal(str(target / QUARANTINE_FILE))} "
                    "(format parquet)")
    finally:
        con.close()
    return loads
