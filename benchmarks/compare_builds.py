"""Whether two built files hold the same contract tables: for a change that must not change
what a build writes (a refactor, a speed-up), build the same input before and after and
compare. build_runs is left out (it records when and how long).

Run: python benchmarks/compare_builds.py BEFORE.duckdb AFTER.duckdb  (exit 1 when any differs)
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from pathlib import Path

import duckdb
import polars as pl

SKIPPED = {"build_runs"}
TABLES = "select table_name from information_schema.tables where table_schema = ? order by 1"


def tables(path: Path, schema: str = "main", only: Collection[str] | None = None) -> dict[str, pl.DataFrame]:
    """The schema's tables (or those named in `only`) by name; outside main, as `schema.table`."""
    prefix = "" if schema == "main" else f"{schema}."
    with duckdb.connect(str(path), read_only=True) as con:
        names = [name for (name,) in con.execute(TABLES, [schema]).fetchall()
                 if name not in SKIPPED and (only is None or name in only)]
        return {prefix + name: con.sql(f"select * from {schema}.{name}").pl() for name in names}


def differences(before: dict[str, pl.DataFrame], after: dict[str, pl.DataFrame]) -> list[str]:
    """One line per table that is not the same rows (in any order) with the same columns."""
    lines = [f"{name}: only before" for name in sorted(before.keys() - after.keys())]
    lines += [f"{name}: only after" for name in sorted(after.keys() - before.keys())]
    for name in sorted(before.keys() & after.keys()):
        old, new = before[name], after[name]
        if old.columns != new.columns:
            lines.append(f"{name}: columns {old.columns} -> {new.columns}")
        elif not old.sort(old.columns).equals(new.sort(new.columns)):
            lines.append(f"{name}: {old.height} rows -> {new.height} rows, not the same")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    before, after = tables(args.before), tables(args.after)
    found = differences(before, after)
    for name in sorted(before.keys() & after.keys()):
        print(f"{name}: {after[name].height} rows, {'differs' if any(l.startswith(name + ':') for l in found) else 'identical'}")
    for line in found:
        print(line)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
