"""`adoption rollup`: the events stage alone, on DuckDB or Spark, into a folder the build
takes as its input (event_days instead of events, the rollup's quarantined rows, and the
other items copied)."""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import duckdb

from pipelines.errors import InputError
from pipelines.load.carried_quarantine import QUARANTINE_FILE
from pipelines.load.input_files import discover
from pipelines.load.landing import FileLoad
from pipelines.rollup.output import check_target, copy_other_items, publish, remove_abandoned, scratch_dir
from pipelines.rollup.stage import stage_folder

Engine = Literal["duckdb", "spark"]


@dataclass(frozen=True)
class RollupSummary:
    out_dir: Path
    engine: Engine
    files: list[FileLoad]
    rows_read: int
    rows_quarantined: int
    events: int  # counted once each
    event_days: int  # rows written
    seconds: float


def _written(target: Path) -> tuple[int, int, int]:
    """Rows and events of the written event_days, and rows of the quarantined file."""
    with duckdb.connect() as con:
        [(rows, events)] = con.execute("select count(*), coalesce(sum(events), 0) from read_parquet(?)",
                                       [str(target / "event_days" / "**" / "*.parquet")]).fetchall()
        [(quarantined,)] = con.execute("select count(*) from read_parquet(?)",
                                       [str(target / QUARANTINE_FILE)]).fetchall()
    return rows, events, quarantined


def rollup(input_dir: Path, out_dir: Path, engine: Engine = "duckdb", spark_master: str | None = None) -> RollupSummary:
    """Count input_dir's events once per user, UTC day and event name into out_dir; InputError
    (exit 2) when the input is unusable, leaving out_dir as it was."""
    clock = time.perf_counter()
    built_at = datetime.now(timezone.utc).replace(tzinfo=None)
    folder = discover(input_dir)
    if not folder.of("events"):
        raise InputError(f"{input_dir}: has event_days, the events counted already; the rollup reads raw events")
    check_target(input_dir, out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned(out_dir)
    scratch = scratch_dir(out_dir)
    target = scratch / "output"
    target.mkdir(parents=True)
    try:
        if engine == "spark":
            from pipelines.rollup import spark_engine  # pyspark only when asked for

            loads = spark_engine.roll_up(stage_folder(folder), built_at, scratch, target, spark_master)
        else:
            from pipelines.rollup import duckdb_engine

            loads = duckdb_engine.roll_up(stage_folder(folder), built_at, scratch, target)
        copy_other_items(input_dir, folder, target)
        event_days, events, quarantined = _written(target)
        publish(target, out_dir, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    event_files = [load for load in loads if load.item == "events"]
    return RollupSummary(
        out_dir=out_dir,
        engine=engine,
        files=event_files,
        rows_read=sum(load.rows_read for load in event_files),
        rows_quarantined=quarantined,
        events=events,
        event_days=event_days,
        seconds=time.perf_counter() - clock,
    )
