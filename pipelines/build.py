"""One build: input folder in, a complete DuckDB file out, or the old file untouched.

The build writes a new file beside the target and renames it over the target only
when everything succeeded. A reader holding the old file open keeps reading the old
file; a build that fails or is killed leaves the previous file as it was.

A build is incremental when the file it replaces has a ledger of its input and every events
file in it is unchanged (pipelines.load.input_ledger): it reads only the new events files
(and the small items again) and merges their counts into the previous file's, attached
read-only (pipelines.load.previous_build), so the tables equal a build from scratch.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from functools import partial
from pathlib import Path

import duckdb

from pipelines.build_context import BuildContext
from pipelines.errors import InputError
from pipelines.load.carried_quarantine import load_carried_quarantine
from pipelines.load.input_files import InputFolder, discover
from pipelines.load.input_ledger import BuildPlan, LedgerEntry, fingerprint, full_build, plan_build, write_ledger
from pipelines.load.landing import FileLoad, load_folder
from pipelines.load.previous_build import (
    StaleVerdicts,
    attach_previous,
    carry_counts,
    detach_previous,
    stale_verdicts,
    why_not_extend,
)
from pipelines.sql_runner import Model, load_models, run_models
from pipelines.table_docs import comment_models, comment_tables, table_docs

# A later stage (the metrics) reads the contract tables and writes its own.
Stage = tuple[str, Callable[[BuildContext], None]]
OnStep = Callable[[str, int, int], None]

PIPELINE_TABLES = ["user_weeks", "site_weeks", "quarantine", "build_runs"]
# DuckDB's share: the whole process (DuckDB, plus the Arrow and polars frames of the model
# stages beside it) must stay under 3 GB. At 3GB the 20M-event build peaked at 3.12-3.14 GB;
# at 2.5GB at 2.65-2.69 GB, in the same time (benchmarks/RESULTS.md).
MEMORY_LIMIT = os.environ.get("ADOPTION_MEMORY_LIMIT", "2.5GB")


@dataclass(frozen=True)
class BuildSummary:
    run_id: str
    db_path: Path
    as_of: date
    files: list[FileLoad]
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    duplicate_events: int
    table_rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    mode: str = "full"  # or "incremental": read only the new events files
    mode_reason: str = ""
    input_files: int = 0  # in the whole input; `files` are those read by this build


def _temp_path(db_path: Path) -> Path:
    return db_path.with_name(f".{db_path.name}.building-{os.getpid()}")


def _landing_path(temp_path: Path) -> Path:
    return Path(f"{temp_path}.landing")


def _spill_path(temp_path: Path) -> Path:
    return Path(f"{temp_path}.spill")


def _scratch_files(temp_path: Path) -> list[Path]:
    """What a build leaves beside its temp file: the landing database and write-ahead logs."""
    landing = _landing_path(temp_path)
    return [Path(f"{temp_path}.wal"), landing, Path(f"{landing}.wal")]


def _remove_abandoned(db_path: Path) -> None:
    """Delete temp files of earlier builds that were killed before they finished."""
    for path in db_path.parent.glob(f".{db_path.name}.building-*"):
        pid = path.name.rsplit("-", 1)[-1].split(".")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the temp file with `landing` attached: a scratch database for the typed input."""
    con = duckdb.connect(str(path))
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
    con.execute("set temp_directory = ?", [str(_spill_path(path))])
    con.execute("set preserve_insertion_order = true")
    # A build that dies is thrown away, so nothing needs saving on the way; by default DuckDB
    # checkpoints whenever its log passes 16 MB (1.8 s in the middle of a 20M-event load).
    con.execute("set checkpoint_threshold = '1TB'")
    con.execute("attach ? as landing", [str(_landing_path(path))])
    return con


def _previous_runs(con: duckdb.DuckDBPyConnection, has_previous: bool) -> None:
    """Create build_runs holding the rows of the file being replaced (attached), if it has them."""
    con.execute(
        """create table main.build_runs (run_id VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
        as_of DATE, input_files VARCHAR, rows_loaded BIGINT, rows_quarantined BIGINT,
        duplicate_events BIGINT, status VARCHAR, mode VARCHAR, mode_reason VARCHAR)"""
    )
    if not has_previous:
        return
    try:
        con.execute("insert into main.build_runs by name select * from previous.main.build_runs")
    except duckdb.Error:
        pass  # an older or foreign file: history starts again with this build


def _drop_intermediates(con: duckdb.DuckDBPyConnection) -> None:
    """Typed copies of the raw input are only needed while building."""
    con.execute("drop schema staging cascade")
    for model in load_models():
        if model.schema == "core" and model.materialized == "view":
            con.execute(f"drop view if exists {model.qualified_name}")
    con.execute("set checkpoint_on_detach = 'DISABLED'")  # its file is deleted: nothing to save
    con.execute("detach landing")


def _scalar(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchall()[0][0]


def build(
    input_dir: Path,
    db_path: Path,
    as_of: date | None = None,
    stages: Sequence[Stage] = (),
    on_step: OnStep = lambda description, step, total: None,
    reviews_path: Path | None = None,
) -> BuildSummary:
    """Build db_path from input_dir, incrementally when its ledger allows; raise InputError
    when the input is unusable."""
    clock = time.perf_counter()
    folder = discover(input_dir)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(db_path)
    current = [fingerprint(file) for file in folder.files]
    run = partial(_build, input_dir, db_path, folder, current, as_of=as_of, stages=stages, on_step=on_step,
                  reviews_path=reviews_path)
    try:
        summary = run(forced=None)
    except StaleVerdicts as stale:
        summary = run(forced=full_build(str(stale)))
    return replace(summary, seconds=time.perf_counter() - clock)


def _plan(con: duckdb.DuckDBPyConnection, previous: list[LedgerEntry] | None, current: list[LedgerEntry]) -> BuildPlan:
    """What the ledgers allow, unless the previous file (attached) cannot be extended after all."""
    plan = plan_build(previous, current)
    obstacle = why_not_extend(con, plan) if plan.is_incremental else None
    return full_build(obstacle) if obstacle else plan


def _build(
    input_dir: Path,
    db_path: Path,
    folder: InputFolder,
    current: list[LedgerEntry],
    *,
    forced: BuildPlan | None,
    as_of: date | None,
    stages: Sequence[Stage],
    on_step: OnStep,
    reviews_path: Path | None,
) -> BuildSummary:
    """One attempt: incremental unless `forced` says otherwise; StaleVerdicts when an
    incremental build finds the previous build's verdicts on its rows no longer hold."""
    started_at = datetime.now(timezone.utc).replace(tzinfo=None)
    run_id = f"{started_at:%Y%m%dT%H%M%S}-{os.getpid()}"
    temp_path = _temp_path(db_path)
    temp_path.unlink(missing_ok=True)
    con = _connect(temp_path)
    try:
        previous = attach_previous(con, db_path)
        plan = forced or _plan(con, previous, current)
        reading = InputFolder([file for file in folder.files if plan.reads(file)], folder.ignored)
        models = load_models()
        total = len(reading.files) + len(models) + len(stages) + 1
        step = iter(range(total))

        def on_model(model: Model) -> None:
            on_step(f"model {model.qualified_name}", next(step), total)

        loads = load_folder(con, reading, started_at, lambda f: on_step(f"load {f.path.name}", next(step), total))
        load_carried_quarantine(con, input_dir, folder)
        carry_counts(con, plan)
        params = {"as_of": as_of}
        waiting = run_models(con, params, on_model)
        stale = stale_verdicts(con) if plan.is_incremental else None
        if stale:
            raise StaleVerdicts(stale)
        window_as_of = _scalar(con, "select as_of from core.build_window")
        if window_as_of is None:
            raise InputError(f"{input_dir}: the events input has no usable event, so there is no week to report on")
        duplicate_events = _scalar(con, "select sum(deliveries - events) from core.event_days")
        context = BuildContext(con, window_as_of, reviews_path)
        for name, stage in stages:
            on_step(name, next(step), total)
            stage(context)
            waiting = run_models(con, params, on_model, waiting)  # the models that read what it wrote
        on_step("write the file", next(step), total)
        _drop_intermediates(con)
        rows_read_now = {load.path: load.rows_read for load in loads}
        ledger = sorted([replace(entry, rows_read=rows_read_now[entry.path]) for entry in current
                         if entry.path in rows_read_now] + list(plan.unchanged_events), key=lambda e: e.path)
        write_ledger(con, ledger)
        rows_read = sum(entry.rows_read for entry in ledger)
        rows_quarantined = _scalar(con, "select count(*) from main.quarantine")
        _previous_runs(con, previous is not None)
        detach_previous(con)
        con.execute(
            "insert into main.build_runs values (?, ?, ?, ?, ?, ?, ?, ?, 'succeeded', ?, ?)",
            [
                run_id,
                started_at,
                datetime.now(timezone.utc).replace(tzinfo=None),
                window_as_of,
                json.dumps([entry.path for entry in ledger]),
                rows_read - rows_quarantined,
                rows_quarantined,
                duplicate_events,
                plan.mode,
                plan.reason,
            ],
        )
        documented = [t for t in table_docs() if t in {r[0] for r in con.execute("show tables").fetchall()}]
        comment_tables(con, documented)
        comment_models(con, [m for m in models if m.materialized != "view" and m not in waiting])
        table_rows = {t: _scalar(con, f"select count(*) from main.{t}") for t in documented}
        con.execute("checkpoint")
        con.close()
        os.replace(temp_path, db_path)
    except BaseException:
        con.close()
        temp_path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(_spill_path(temp_path), ignore_errors=True)
        for path in _scratch_files(temp_path):
            path.unlink(missing_ok=True)

    return BuildSummary(
        run_id=run_id,
        db_path=db_path,
        as_of=window_as_of,
        files=loads,
        rows_read=rows_read,
        rows_loaded=rows_read - rows_quarantined,
        rows_quarantined=rows_quarantined,
        duplicate_events=duplicate_events,
        table_rows=table_rows,
        mode=plan.mode,
        mode_reason=plan.reason,
        input_files=len(ledger),
    )
