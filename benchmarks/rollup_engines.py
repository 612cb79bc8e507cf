"""Events per second of `adoption rollup` on DuckDB and on Spark in local mode, on the demo
inputs of build_vs_anchor (generated once into --work and reused), with what it writes.

Each run is its own process, so Spark's start (the JVM) is in its time, as a user sees it;
the Spark session's start alone is measured too. Events per second counts the event rows
read (repeats and bad rows included).

    python benchmarks/rollup_engines.py --sizes 1,20 --engines duckdb,spark --work /tmp/rollup-bench
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from build_vs_anchor import demo_folder, machine_line

from pipelines.rollup.spark_engine import DRIVER_MEMORY

ROLLUP = textwrap.dedent("""
    import json, resource, shutil, sys, time
    from pathlib import Path
    from pipelines.rollup import rollup
    source, out, engine = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    session = 0.0
    if engine == "spark":
        from pipelines.rollup.spark_engine import spark_session
        spark_session()
        session = time.perf_counter() - start
    summary = rollup(source, out, engine)
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in (out / "event_days").rglob("*.parquet"))
    print(json.dumps({"seconds": seconds, "session": session, "rows_read": summary.rows_read,
                      "events": summary.events, "event_days": summary.event_days, "event_days_mb": size / 2**20,
                      "quarantined": summary.rows_quarantined,
                      "rss_mb": max(resource.getrusage(who).ru_maxrss for who in
                                    (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024}))
""")


def run_rollup(folder: Path, out: Path, engine: str) -> dict:
    result = subprocess.run([sys.executable, "-c", ROLLUP, str(folder), str(out), engine], capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"rollup on {engine} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,20", help="millions of events, comma-separated")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rollup-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{machine_line()}; Spark local[*], driver memory {DRIVER_MEMORY}.",
        f"Command: `python benchmarks/rollup_engines.py --sizes {args.sizes} --engines {args.engines}`",
        "",
        "| events (M) | engine | event rows read | seconds | of which Spark's start | event rows / s | "
        "event_days rows | event_days MB | quarantined | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for millions in [float(s) for s in args.sizes.split(",")]:
        folder = demo_folder(args.work, millions)
        for engine in args.engines.split(","):
            run = run_rollup(folder, args.work / f"rollup-{millions:g}M-{engine}", engine)
            line = (f"| {millions:g} | {engine} | {run['rows_read']:,} | {run['seconds']:.1f} | "
                    f"{run['session']:.1f} | {run['rows_read'] / run['seconds']:,.0f} | {run['event_days']:,} | "
                    f"{run['event_days_mb']:.1f} | {run['quarantined']:,} | {run['rss_mb']:.0f} |")
            print(line, file=sys.stderr)
            lines.append(line)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
