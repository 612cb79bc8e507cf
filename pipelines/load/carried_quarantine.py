"""The rows `adoption rollup` quarantined, carried into the build that reads its output.

A rollup counts the events per user, day and event name, so the build never sees the
event rows it rejected; it writes them (with their original file, row, reason and values)
to `quarantine.parquet` beside `event_days`, and the build adds them to its own
quarantine: a build from a rollup's output quarantines what a build from the raw events would.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.errors import InputError
from pipelines.load.input_files import InputFolder

QUARANTINE_FILE = "quarantine.parquet"
COLUMNS = "source_file VARCHAR, row_number BIGINT, reason VARCHAR, raw VARCHAR"


def load_carried_quarantine(con: duckdb.DuckDBPyConnection, input_dir: Path, folder: InputFolder) -> None:
    """Create landing.carried_quarantine: the rollup's rows when the input has event_days, else empty."""
    con.execute(f"create table landing.carried_quarantine ({COLUMNS})")
    path = input_dir / QUARANTINE_FILE
    if not folder.of("event_days") or not path.is_file():
        return
    try:
        con.execute(
            "insert into landing.carried_quarantine "
            "select source_file, row_number, reason, raw from read_parquet(?)",
            [str(path)],
        )
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise InputError(f"{path}: cannot be read as the rollup's quarantined rows "
                         f"(source_file, row_number, reason, raw): {first_line}") from error
