"""Build time and peak memory against a bare DuckDB anchor on the same files.

The anchor is the irreducible work: read the events, drop repeated event ids, count per
user and week, fill the zero weeks, persist the table. A second, contract-grain anchor adds
what the contract and incremental builds ask beyond it, in bare SQL (see ANCHOR). Absolute times drift with the
machine; the ratio build / anchor holds. Each measurement runs in its own process so its
peak resident memory is its own, and its CPU seconds (user and system): on a machine other
work shares, their ratio moves less than the wall-clock one.

    python benchmarks/build_vs_anchor.py --sizes 1,5,20 --work /tmp/adoption-bench
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

from pipelines.build import MEMORY_LIMIT

EVENTS_PER_USER = 520  # the default demo: about 1.04 million events for 2,000 users over 52 weeks

BUILD = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    cpu_seconds = lambda: sum(getattr(resource.getrusage(resource.RUSAGE_SELF), f) for f in ("ru_utime", "ru_stime"))
    from metrics.stages import BUILD_STAGES
    from pipelines.build import build
    stages, last = {}, [time.perf_counter(), None]
    def group(description):
        if description is None: return None
        if description.startswith("load"): return "load and validate"
        if description == "model core.user_event_days": return "dedupe and count events"
        if description == "model core.event_keys": return "keep event keys"
        if description.startswith("model"): return "SQL models"
        return description
    def on_step(description, step, total):
        now = time.perf_counter()
        if last[1]: stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
        last[:] = [now, group(description)]
    start = time.perf_counter()
    summary = build(Path(sys.argv[1]), Path(sys.argv[2]), stages=BUILD_STAGES, on_step=on_step)
    on_step(None, 0, 0)
    print(json.dumps({"seconds": time.perf_counter() - start, "stages": stages, "rows_read": summary.rows_read,
                      "mode": summary.mode, "mode_reason": summary.mode_reason,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cpu_s": cpu_seconds()}))
""")

# Bare DuckDB on the same files, in one process: `folder target grain`. Grain "weeks" is the
# anchor of issue 8: read the events, drop repeated event ids, count per user and week, fill
# the zero weeks, persist. Grain "contract" also does in bare SQL what the contract and the
# incremental build added since: counts per user, UTC day and event name persisted (the
# event_days grain), summed to the weeks, and every event row's 64-bit key persisted.
ANCHOR = textwrap.dedent("""
    import json, os, resource, sys, time
    cpu_seconds = lambda: sum(getattr(resource.getrusage(resource.RUSAGE_SELF), f) for f in ("ru_utime", "ru_stime"))
    import duckdb
    from pipelines.build import MEMORY_LIMIT
    folder, target, grain = sys.argv[1], sys.argv[2], sys.argv[3]
    if os.path.exists(target): os.remove(target)
    start = time.perf_counter()
    con = duckdb.connect(target)
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")  # the build's own limit
    con.execute(f'''
        create view raw as
        select user_id, "timestamp"::timestamp as occurred_at, event_id, event_name, site_id, properties
        from read_parquet('{folder}/events/*.parquet')
        union all by name
        select user_id, try_cast("timestamp" as timestamptz)::timestamp as occurred_at, event_name, properties
        from read_csv('{folder}/events/*.csv', all_varchar = true)
    ''')
    # the weeks anchor, as issue 8 had it, keeps no event name; the contract grain needs one
    named = grain == "contract"
    con.execute(f'''
        create view events as
        select any_value(user_id) as user_id, any_value(occurred_at) as occurred_at
               {", any_value(event_name) as event_name" if named else ""}
        from raw where event_id is not null group by event_id
        union all
        select distinct user_id, occurred_at {", event_name" if named else ""} from raw where event_id is null
    ''')
    if grain == "contract":
        con.execute('''
            create table event_days as
            select user_id, occurred_at::date as day, event_name, count(*) as events,
                   min(occurred_at) as first_event_at, max(occurred_at) as last_event_at
            from events group by all
        ''')
        con.execute('''
            create table event_keys as
            select case when event_id is not null then hash(event_id)
                        else hash(user_id, event_name, occurred_at, site_id, properties) end as event_key
            from raw
        ''')
        counts = "select user_id, date_trunc('week', day)::date as week, sum(events) as events from event_days group by all"
    else:
        counts = "select user_id, date_trunc('week', occurred_at)::date as week, count(*) as events from events group by all"
    con.execute(f'''
        create table user_weeks as
        with counts as ({counts}),
        users as (
            select user_id, date_trunc('week', try_cast(invited_at as timestamptz))::date as first_week
            from read_csv('{folder}/users.csv', all_varchar = true)
        ),
        spine as (
            select user_id, unnest(generate_series(first_week, (select max(week) from counts), interval 7 day))::date as week
            from users where first_week is not null
        )
        select spine.user_id, spine.week, coalesce(counts.events, 0) as events
        from spine left join counts using (user_id, week)
    ''')
    con.close()
    print(json.dumps({"seconds": time.perf_counter() - start,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cpu_s": cpu_seconds()}))
""")


def run_measured(script: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"measurement failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def demo_folder(work: Path, millions: float) -> Path:
    folder = work / f"demo-{millions:g}M"
    if not (folder / "users.csv").exists():
        users = int(millions * 1_000_000 / EVENTS_PER_USER)
        print(f"generating {folder} ({users:,} users)", file=sys.stderr)
        subprocess.run([str(Path(sys.executable).with_name("adoption")), "demo", "--out", str(folder), "--users", str(users),
                        "--sites", str(max(30, users // 100))], check=True, capture_output=True)
    return folder


def machine_line() -> str:
    """What a result was measured on, for the head of a results table: seconds mean little without it."""
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"{os.cpu_count()} cores, {memory_gb:.0f} GB; DuckDB memory limit {MEMORY_LIMIT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,5,20", help="millions of events, comma-separated")
    parser.add_argument("--work", type=Path, default=Path("/tmp/adoption-bench"))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS-build.md"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for millions in [float(s) for s in args.sizes.split(",")]:
        folder = demo_folder(args.work, millions)
        anchor = run_measured(ANCHOR, str(folder), str(args.work / "anchor.duckdb"), "weeks")
        contract = run_measured(ANCHOR, str(folder), str(args.work / "anchor.duckdb"), "contract")
        (args.work / "build.duckdb").unlink(missing_ok=True)  # else the build extends it (incremental)
        built = run_measured(BUILD, str(folder), str(args.work / "build.duckdb"))
        rows.append((millions, built, anchor, contract))
        print(f"{millions:g}M: build {built['seconds']:.1f} s, anchor {anchor['seconds']:.1f} s, "
              f"ratio {built['seconds'] / anchor['seconds']:.2f}, CPU {built['cpu_s']:.1f} s / {anchor['cpu_s']:.1f} s = "
              f"{built['cpu_s'] / anchor['cpu_s']:.2f}, peak {built['rss_mb']:.0f} MB; contract-grain anchor "
              f"{contract['seconds']:.1f} s, ratio {built['seconds'] / contract['seconds']:.2f}", file=sys.stderr)
    lines = [
        f"{machine_line()}.",
        f"Command: `python benchmarks/build_vs_anchor.py --sizes {args.sizes}`",
        "",
        "| events (M) | input rows (M) | build (s) | anchor (s) | build / anchor | CPU s build / anchor "
        "| build peak RSS (MB) | anchor peak RSS (MB) | contract-grain anchor (s) | build / contract-grain anchor "
        "| slowest stages (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for millions, built, anchor, contract in rows:
        slowest = ", ".join(f"{name} {sec:.1f}" for name, sec in sorted(built["stages"].items(), key=lambda kv: -kv[1])[:4])
        lines.append(f"| {millions:g} | {built['rows_read'] / 1e6:.1f} | {built['seconds']:.1f} | "
                     f"{anchor['seconds']:.1f} | {built['seconds'] / anchor['seconds']:.2f} | "
                     f"{built['cpu_s']:.1f} / {anchor['cpu_s']:.1f} = {built['cpu_s'] / anchor['cpu_s']:.2f} | "
                     f"{built['rss_mb']:.0f} | {anchor['rss_mb']:.0f} | {contract['seconds']:.1f} | "
                     f"{built['seconds'] / contract['seconds']:.2f} | {slowest} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
