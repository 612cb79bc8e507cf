"""`training_effect`: what training did to weekly use, with the struggling-sites-first bias removed.

Sites are trained in waves and the struggling ones first, so "trained sites use it less"
is what a plain comparison shows. The event study compares each site with sites not yet
trained, before and after its first training week (Callaway & Sant'Anna, in
`staggered_did`); the naive gap and two-way fixed effects are kept beside it to show the
bias it removes.

The panel is one row per site and week of `weekly_active_rate`: active enrolled users /
enrolled users (`site_weeks`). A week in which a site has no enrolled user has no rate and
is no zero: before its first invitation a site has nothing to adopt. The estimator needs a
balanced panel, and sites go live at different weeks, so the panel starts at the week
that keeps the most site-weeks: sites that have enrolled users in every week from it to
as_of stay, the others (live too late, or with a week without users) are left out. A site
trained before the panel's second week has no untrained week to compare and is dropped by
the estimator.

The event study's pre-trend test is a diagnostic, not an effect: it is in `training_tests`.
"""
from __future__ import annotations

import polars as pl

from metrics.estimators.staggered_did import PanelColumns, training_effect_table
from metrics.training.training_survival import first_training_weeks
from pipelines.build_context import BuildContext

__all__ = [
    "EVENT_WEEKS",
    "OUTCOME",
    "PANEL",
    "SCHEMA",
    "balanced_panel",
    "did_rows",
    "effect_rows",
    "read_panel",
    "site_week_rates",
    "write_training_effect",
]

OUTCOME = "weekly_active_rate"
PANEL = PanelColumns(unit="site_id", period="week", outcome=OUTCOME, first_treated="first_training_week")
EVENT_WEEKS = (-8, 12)
SCHEMA = {"outcome": pl.String, "event_week": pl.Int64, "estimate": pl.Float64, "ci_low": pl.Float64,
          "ci_high": pl.Float64, "n_units": pl.Int64, "method": pl.String}


def site_week_rates(site_weeks: pl.DataFrame) -> pl.DataFrame:
    """site_id, week, weekly_active_rate for the site-weeks with enrolled users."""
    return site_weeks.filter(pl.col("users") > 0).select(
        "site_id", "week", (pl.col("active_users") / pl.col("users")).alias(OUTCOME)
    )


def balanced_panel(rates: pl.DataFrame, first_training: pl.DataFrame) -> pl.DataFrame:
    """The balanced site-week panel with each site's first training week (null: not yet).

    A site's run is its weeks with a rate, from its first to the last (as_of); it counts
    only if unbroken. The start week maximises sites x weeks over the runs' first weeks.
    """
    last_week = rates["week"].max()
    runs = (
        rates.group_by("site_id")
        .agg(pl.col("week").min().alias("first_week"), pl.len().alias("n_weeks"))
        .filter(pl.col("n_weeks") == (last_week - pl.col("first_week")).dt.total_days() // 7 + 1)
    )
    starts = (
        runs.group_by("first_week")
        .len("n_sites")
        .sort("first_week")
        .with_columns(
            (pl.col("n_sites").cum_sum() * ((last_week - pl.col("first_week")).dt.total_days() // 7 + 1))
            .alias("site_weeks")
        )
    )
    start = starts.sort("site_weeks", "first_week", descending=[True, False])["first_week"].first()
    return (
        rates.join(runs.filter(pl.col("first_week") <= start), on="site_id", how="semi")
        .filter(pl.col("week") >= start)
        .join(first_training, on="site_id", how="left")
        .sort("site_id", "week")
    )


def effect_rows(panel: pl.DataFrame) -> pl.DataFrame:
    """The contract's rows for the weekly active rate: Callaway & Sant'Anna overall and
    event weeks -8..12 (not-yet-trained controls), the naive gap and TWFE."""
    return training_effect_table(panel, PANEL, control_group="notyettreated", min_e=EVENT_WEEKS[0],
                                 max_e=EVENT_WEEKS[1])


def did_rows(panel: pl.DataFrame) -> pl.DataFrame:
    """`effect_rows`, or none when the panel cannot support them (no site trained within
    it, none left to compare with, no week before training): exactly when `staggered_did`
    raises ValueError."""
    try:
        return effect_rows(panel)
    except ValueError:
        return pl.DataFrame(schema=SCHEMA)


def read_panel(ctx: BuildContext) -> pl.DataFrame:
    """The build's `balanced_panel`, once per build: the effects and the pre-trend test
    (`training_tests`) both read it."""
    def compute(ctx: BuildContext) -> pl.DataFrame:
        site_weeks = ctx.con.sql("select site_id, week, users, active_users from main.site_weeks").pl()
        return balanced_panel(site_week_rates(site_weeks), first_training_weeks(ctx.con))

    return ctx.shared("training_panel", compute)


def write_training_effect(ctx: BuildContext) -> None:
    """Build stage: the event study and the overall effects into main.training_effect."""
    ctx.write_table("training_effect", did_rows(read_panel(ctx)))
