"""Hostile values (the hostile-input tests draw from them) and one fixed hostile input folder
built from them, for tests that compare two ways of reading the same input."""
from __future__ import annotations

import csv
import itertools
import json
import shutil
from pathlib import Path

import duckdb

from tests.support import TINY

__all__ = ["NASTY_STRINGS", "ODD_TIMESTAMPS", "write_hostile_input"]

NASTY_STRINGS = [
    "<script>alert('x')</script>", "<b>bold</b> & co", '=HYPERLINK("http://evil.example","x")', "+SUM(A1:A9)",
    "-1+2", "@cmd", "'; drop table users; --", "Ünïcödé clinic", "家庭医", "a\nmulti\nline", 'quote "inside"',
    "x" * 20_000, "\u202eevil", "\x00nul", "   ", "",
]
ODD_TIMESTAMPS = [
    "2024-01-02T10:00:00Z", "2024-01-02T10:00:00+05:30", "2024-01-02T10:00:00-08:00", "2024-01-02 10:00:00",
    "2024-01-02", "2099-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2024-02-30T10:00:00Z", "02/01/2024",
    "yesterday", "", "2024-01-02T25:00:00Z", "2024-01-02T10:00:00.123456789Z",
]
# what one engine's cast takes and the other's does not, unless the loader's ISO 8601 check stops it
ENGINE_TRAPS = ["2024", "2024-01", "today", "now", "epoch", "infinity", " 2024-01-03 ", "2024-01-03T10",
                "2024-01-03T10:00:00 +05:30", "+2024-01-03", "2024-01-03T10:00:00.5", "2024-01-03 10:00:00 UTC",
                "2024-01-03T10:00:00 America/New_York", "2024-1-3"]
# padded ids: DuckDB's trim() strips a no-break or ideographic space, not a tab
USERS = ["u1", "u2", "u3", "ghost", "", "U1 ", "\u00a0u2\u3000", "\tu3"]


def _event_rows() -> list[dict[str, str]]:
    """Every odd timestamp for each user, odd event names, event ids that repeat or are missing."""
    names, ids = itertools.cycle(NASTY_STRINGS + ["open"]), itertools.cycle(["e1", "e2", "", "e3", "h1"])
    return [
        {"user_id": user, "timestamp": timestamp, "event_name": next(names), "event_id": next(ids)}
        for timestamp in ODD_TIMESTAMPS + ENGINE_TRAPS
        for user in USERS
    ]


def _write_csv(path: Path, rows: list[dict[str, str]], broken_lines: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[: len(rows) // 2])
        f.write("".join(line + "\r\n" for line in broken_lines))
        writer.writerows(rows[len(rows) // 2:])


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    lines = [json.dumps(row) for row in rows]
    lines[3:3] = ["not json at all", "[1, 2]", '"a string"', "", "   ", '{"user_id": "u1", "timestamp": '
                  '"2024-01-04T10:00:00Z", "event_name": "nested", "properties": {"a": {"b": [1, 2.50]}}, "n": 7}',
                  '{"user_id": "u2", "timestamp": "2024-01-04T11:00:00Z", "event_name": 12, "event_id": null}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_parquet(path: Path) -> None:
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"""copy (select * from (values
            ('u1', TIMESTAMPTZ '2024-01-05 10:00:00+02', 'open', 'p1'),
            ('u1', TIMESTAMPTZ '2024-01-05 10:00:00+02', 'open', 'p1'),
            ('u2', null, 'open', 'p2'),
            ('ghost', TIMESTAMPTZ '2024-01-05 12:00:00+00', 'open', 'p3'),
            ('u3', TIMESTAMPTZ '2099-01-05 12:00:00+00', 'open', 'p4'),
            ('u2', TIMESTAMPTZ '2024-01-06 23:59:59.999999+00', '', 'p5')
        ) as t(user_id, "timestamp", event_name, event_id)) to '{path}' (format parquet)""")


def write_hostile_input(folder: Path) -> Path:
    """The tiny input, plus sites with nasty names, users invited at odd times, and events in
    CSV (with lines of too many and too few fields), JSON Lines (with lines that are no
    object) and Parquet (native timestamps) holding every odd value; returns the folder."""
    shutil.copytree(TINY, folder)
    with open(folder / "sites.csv", "a", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([f"h{i}", name, "west", "", "", name] for i, name in enumerate(NASTY_STRINGS))
    with open(folder / "users.csv", "a", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([f"v{i}", "s1", "nurse", t, ""] for i, t in enumerate(ODD_TIMESTAMPS + ENGINE_TRAPS))
    rows = _event_rows()
    _write_csv(folder / "events" / "hostile.csv", rows,
               ["u1,2024-01-03T10:00:00Z,open,x1,s1,extra", "u1,2024-01-03T10:00:00Z,open,x2,s1,extra,more",
                "u1,2024-01-03T10:00:00Z", "u2"])
    _write_jsonl(folder / "events" / "hostile.jsonl", rows)
    _write_parquet(folder / "events" / "hostile.parquet")
    return folder
