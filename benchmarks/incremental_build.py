"""Appending one week to a 52-week input: the incremental build against a full build of the
same input, in the same run (the goal: at most a quarter of its time), and whether their
tables are the same.

The input is build_vs_anchor's demo with the last week's Parquet events moved to a file of
their own (`events/week-YYYY-MM-DD.parquet`, sorting after the month files and the legacy
CSV, which keeps its rows). Each run: a full build without that week, the week added, the
incremental build over it, then a full build of the same folder into another file. Each
build runs in its own process, as build_vs_anchor measures it.

    python benchmarks/incremental_build.py --millions 20 --runs 3 --work /tmp/adoption-bench
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

import duckdb

from build_vs_anchor import BUILD, demo_folder, run_measured
from compare_builds import differences, tables

CORE_COMPARED = ("user_event_days", "event_days", "users")


def _split(demo: Path, work: Path) -> tuple[Path, Path]:
    """An input folder with the demo but its last week's Parquet events, and that week's file aside."""
    folder, aside = work / f"{demo.name}-appended", work / f"{demo.name}-last-week"
    if aside.exists():
        return folder, next(aside.iterdir())
    shutil.copytree(demo, folder, ignore=shutil.ignore_patterns("*.parquet"))
    aside.mkdir()
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        parquet = str(demo / "events" / "*.parquet")
        [(last_week,)] = con.execute(
            "select max(date_trunc('week', \"timestamp\"))::date from read_parquet(?)", [parquet]).fetchall()
        week_file = aside / f"week-{last_week}.parquet"
        con.execute(f"copy (select * from read_parquet(?) where \"timestamp\" >= ?) to '{week_file}'",
                    [parquet, last_week])
        for path in sorted((demo / "events").glob("*.parquet")):
            con.execute(f"copy (select * from read_parquet(?) where \"timestamp\" < ?) to '{folder / 'events' / path.name}'",
                        [str(path), last_week])
    return folder, week_file


def _key_storage(db: Path) -> tuple[int, float]:
    """Rows of core.event_keys and the megabytes of blocks they take in the file."""
    with duckdb.connect(str(db), read_only=True) as con:
        [(rows,)] = con.execute("select count(*) from core.event_keys").fetchall()
        [(blocks, block_size)] = con.execute(
            "select count(distinct block_id), any_value(block_size) from pragma_storage_info('core.event_keys'), "
            "pragma_database_size() where block_id >= 0").fetchall()
    return rows, blocks * block_size / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--millions", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/adoption-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    folder, week_file = _split(demo_folder(args.work, args.millions), args.work)
    appended = folder / "events" / week_file.name
    incremental_db, full_db = args.work / "incremental.duckdb", args.work / "full.duckdb"
    runs = []
    for run in range(args.runs):
        appended.unlink(missing_ok=True)
        incremental_db.unlink(missing_ok=True)
        base = run_measured(BUILD, str(folder), str(incremental_db))
        shutil.copy(week_file, appended)
        incremental = run_measured(BUILD, str(folder), str(incremental_db))
        full_db.unlink(missing_ok=True)
        full = run_measured(BUILD, str(folder), str(full_db))
        runs.append((base, incremental, full))
        print(f"run {run + 1}: base {base['seconds']:.1f} s, incremental {incremental['seconds']:.1f} s "
              f"({incremental['mode']}: {incremental['mode_reason']}), full {full['seconds']:.1f} s, "
              f"ratio {incremental['seconds'] / full['seconds']:.2f}; CPU {incremental['cpu_s']:.1f} / {full['cpu_s']:.1f} s "
              f"= {incremental['cpu_s'] / full['cpu_s']:.2f}", file=sys.stderr)
    found = differences(tables(full_db), tables(incremental_db))
    found += differences(tables(full_db, "core", CORE_COMPARED), tables(incremental_db, "core", CORE_COMPARED))
    key_rows, key_mb = _key_storage(incremental_db)
    incremental = sorted(runs, key=lambda r: r[1]["seconds"])[len(runs) // 2][1]
    slowest = ", ".join(f"{name} {sec:.1f}" for name, sec in
                        sorted(incremental["stages"].items(), key=lambda kv: -kv[1])[:6])
    print("\n".join([
        f"Command: `python benchmarks/incremental_build.py --millions {args.millions:g} --runs {args.runs}`",
        "",
        "| run | full build without the week (s) | incremental, the week added (s) | full build, same input (s) "
        "| incremental / full | CPU s incremental / full | incremental peak RSS (MB) | full peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {i + 1} | {b['seconds']:.1f} | {inc['seconds']:.1f} | {f['seconds']:.1f} | "
          f"{inc['seconds'] / f['seconds']:.2f} | {inc['cpu_s']:.1f} / {f['cpu_s']:.1f} = {inc['cpu_s'] / f['cpu_s']:.2f} | "
          f"{inc['rss_mb']:.0f} | {f['rss_mb']:.0f} |"
          for i, (b, inc, f) in enumerate(runs)),
        "",
        f"Middle run by incremental time, its slowest steps: {slowest}.",
        f"Ratio median over runs: {statistics.median(inc['seconds'] / f['seconds'] for _, inc, f in runs):.2f}.",
        f"core.event_keys: {key_rows:,} rows, {key_mb:.0f} MB of the file "
        f"(incremental file {incremental_db.stat().st_size / 2**20:.0f} MB, full {full_db.stat().st_size / 2**20:.0f} MB).",
        "Tables: " + ("identical (main; core: " + ", ".join(CORE_COMPARED) + ")" if not found else "; ".join(found)),
    ]))
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
