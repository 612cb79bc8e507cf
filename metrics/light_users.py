"""The light track: users too light for a rate test, scored by P(still active).

A modified BG/NBD model (Batislam et al. 2007) is fitted by maximum likelihood to every
activated user's weekly history: x = active weeks after the first, t_x = weeks from the
first to the last active week, T = weeks from the first active week to the end of the
as_of week. Unlike plain BG/NBD it lets a user with no repeat activity drop out, so a
long silence lowers P(alive) for light users too. Users are flagged with a Bayesian
false-discovery cutoff: the flagged list's mean P(alive) stays at most `q`.
"""
from __future__ import annotations

import warnings
from datetime import date, timedelta

import numpy as np
import polars as pl
from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

from metrics.alive_models import ModifiedBGNBD, select_dead_fdr

MIN_FIT_USERS = 30


def weekly_summary(user_weeks: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """(x, t_x, T) in weeks per activated user, from their active weeks up to as_of."""
    end = as_of + timedelta(weeks=1)
    return (
        user_weeks.lazy()
        .filter(pl.col("events") > 0, pl.col("week") <= as_of)
        .group_by("user_id")
        .agg(
            pl.len().alias("n_active_weeks"),
            pl.col("week").min().alias("first_active_week"),
            pl.col("week").max().alias("last_active_week"),
        )
        .with_columns(
            (pl.col("n_active_weeks") - 1).cast(pl.Float64).alias("x"),
            ((pl.col("last_active_week") - pl.col("first_active_week")).dt.total_days() / 7).alias("t_x"),
            ((pl.lit(end) - pl.col("first_active_week")).dt.total_days() / 7).alias("T"),
        )
        .sort("user_id")
        .collect()
    )


def light_user_scores(user_weeks: pl.DataFrame, as_of: date, light_user_ids: pl.Series, q: float) -> pl.DataFrame:
    """Per light user: P(alive), its Bayesian q-value, whether flagged, and the silence's start."""
    summary = weekly_summary(user_weeks, as_of)
    schema = {"user_id": pl.String, "p_alive": pl.Float64, "q_value": pl.Float64, "is_drop": pl.Boolean,
              "drop_week": pl.Date}
    if summary.height < MIN_FIT_USERS:
        return pl.DataFrame(schema=schema)
    with warnings.catch_warnings():
        # A population in which hardly anyone drops out puts the dropout parameters at their
        # boundary: the Hessian is singular and BFGS stops early, but P(alive) needs only the
        # point estimate, which is then legitimately "nobody drops out".
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", HessianInversionWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        # every activated user, as the distinct (x, t_x, T) in whole weeks with their counts
        distinct = summary.group_by("x", "t_x", "T").len().sort("x", "t_x", "T")
        fit = ModifiedBGNBD(distinct["x"].to_numpy(), distinct["t_x"].to_numpy(), distinct["T"].to_numpy(),
                            weights=distinct["len"].to_numpy()).fit()
    light = summary.filter(pl.col("user_id").is_in(light_user_ids.implode()))
    scored = light.with_columns(
        pl.Series("p_alive", fit.p_alive(light["x"].to_numpy(), light["t_x"].to_numpy(), light["T"].to_numpy()))
    )
    selection = select_dead_fdr(1.0 - scored["p_alive"].to_numpy(), q=q)
    return scored.select(
        "user_id",
        "p_alive",
        pl.Series("q_value", np.asarray(selection.q_value, dtype=float)),
        pl.Series("is_drop", np.asarray(selection.selected, dtype=bool)),
        (pl.col("last_active_week") + pl.duration(weeks=1)).alias("drop_week"),
    )
