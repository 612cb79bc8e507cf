"""How well the quiet flag finds planted silent droppers, beside the 30-day inactivity rule.

Only `adoption evaluate` and the tests use this: it needs the demo's planted truth, which
the build and the models never read. Detection delay is measured by scoring every week
from the earliest planted drop to as_of as if it were as_of, the way a CSM would have
seen the list each Monday.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import polars as pl

from metrics.quiet.active_history import active_weeks
from metrics.quiet.quiet_users import score_at
from metrics.vocabulary import FLAGGED
from metrics.quiet.return_model import ReturnModel, fit_return_model
from metrics.quiet.user_facts import user_facts, user_tickets
from pipelines.build_context import week_end

SILENT_DROPPERS = ["silent_stop", "silent_fade"]
INACTIVITY_DAYS = 30


@dataclass(frozen=True)
class MethodScore:
    method: str
    flagged: int
    true_positives: int
    droppers: int
    median_delay_weeks: float | None  # from the drop week to the first week flagged
    detected_by_as_of: int
    median_delay_by_kind: dict[str, float | None]  # the same for stops and fades apart

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else float("nan")

    @property
    def recall(self) -> float:
        return self.true_positives / self.droppers if self.droppers else float("nan")


def thirty_day_rule(facts: pl.DataFrame, as_of: date) -> pl.Series:
    """Flag every activated, enrolled user with no event in the last 30 days."""
    window_end = week_end(as_of)
    return (
        facts["last_active_at"].is_not_null()
        & (facts["last_active_at"] < window_end - timedelta(days=INACTIVITY_DAYS))
        & ~(facts["deactivated_at"] < window_end).fill_null(False)
    )


def flags_at(con: duckdb.DuckDBPyConnection, user_weeks: pl.DataFrame, as_of: date, model: ReturnModel) -> pl.DataFrame:
    """Both methods' flags as they would have been on a past as_of week (the return model, fitted
    up to a later week, judges each week with what it knew then)."""
    facts = user_facts(con, as_of)
    ours = score_at(facts, user_weeks, user_tickets(con, as_of), as_of, model)
    return ours.select(
        "user_id", "status", pl.col("status").is_in(FLAGGED).alias("ours")
    ).join(facts.select("user_id", thirty_day_rule(facts, as_of).alias("thirty_day_rule")), on="user_id")


def evaluate(con: duckdb.DuckDBPyConnection, truth: pl.DataFrame) -> tuple[list[MethodScore], pl.DataFrame]:
    """Scores of both methods at the file's as_of, and the status of every planted user."""
    [(as_of,)] = con.execute("select as_of from core.build_window").fetchall()
    user_weeks = con.sql("select user_id, site_id, week, events, active_days, is_enrolled from main.user_weeks").pl()
    truth = truth.with_columns(pl.col("drop_week").str.to_date(strict=False))
    droppers = truth.filter(pl.col("kind").is_in(SILENT_DROPPERS))
    first_week = droppers["drop_week"].min() or as_of
    model = fit_return_model(active_weeks(user_weeks, as_of))
    weekly = pl.concat(
        flags_at(con, user_weeks, week, model).with_columns(pl.lit(week).alias("as_of"))
        for week in pl.date_range(first_week, as_of, "1w", eager=True)
    )
    final = weekly.filter(pl.col("as_of") == as_of).join(truth, on="user_id", how="left")
    scores = []
    for method in ["ours", "thirty_day_rule"]:
        first_flag = (
            weekly.filter(pl.col(method))
            .join(droppers, on="user_id")
            .filter(pl.col("as_of") >= pl.col("drop_week"))
            .group_by("user_id", "kind")
            .agg(((pl.col("as_of").min() - pl.col("drop_week").first()).dt.total_days() / 7).alias("delay"))
        )
        flagged = final.filter(pl.col(method))
        scores.append(
            MethodScore(
                method="ours (quiet + silent_churn)" if method == "ours" else "30-day inactivity rule",
                flagged=flagged.height,
                true_positives=flagged.filter(pl.col("kind").is_in(SILENT_DROPPERS)).height,
                droppers=droppers.height,
                median_delay_weeks=first_flag["delay"].median(),
                detected_by_as_of=first_flag.height,
                median_delay_by_kind={kind: first_flag.filter(pl.col("kind") == kind)["delay"].median()
                                      for kind in SILENT_DROPPERS},
            )
        )
    return scores, final.select("user_id", "kind", "status", "ours", "thirty_day_rule")
