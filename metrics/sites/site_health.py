"""`site_health`: one 0-100 score per site, its risk band, and what pulls it down, in CSM words.

The score is 100 minus the points each component loses (weights in COMPONENTS):

    adoption        weekly active users (mean of the last 4 weeks) / licensed seats; full
                    marks from ADOPTION_TARGET on
    quiet           share of enrolled users who went quiet or silently churned; nothing
                    left at BAD_SHARE
    never_activated share of enrolled users who never used it; nothing left at BAD_SHARE
    trend           weekly active users, last 4 weeks against the 8 before; full marks when
                    not falling, nothing left once halved
    tickets         tickets of the last 4 weeks per weekly active user; nothing left at
                    BAD_TICKETS
    training        share of enrolled users trained

What users do weighs 90 points. Training weighs little on purpose: it is an input, not an
outcome, and sites are trained because they struggle, so a heavy weight would make the
struggling sites look healthy (see `training_effect`). A component a site cannot have (no
licensed seats given; fewer than TREND_WEEKS weeks live) is left out and the other
weights rescaled.

Small sites are shrunk towards the portfolio before scoring (empirical Bayes): 2 quiet
users of 4 is weak evidence of a 50% problem. Each share k/n becomes (k + a)/(n + a + b)
under a beta prior fitted across sites by the method of moments, which shrinks hard when
sites differ little beyond binomial noise and hardly at all when they truly differ; the
ticket rate likewise under a gamma prior. Adoption is shrunk as the share of seat-weeks
used, the trend as the share of the 12 weeks' active user-weeks that fall in the last 4
(a third when flat). What a CSM reads (the counts, adoption_rate, trained_share, drivers)
stays raw.
"""
from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.build_context import BuildContext

__all__ = [
    "COMPONENTS",
    "RISK_BANDS",
    "beta_binomial_shrink",
    "gamma_poisson_shrink",
    "active_user_trend",
    "site_facts",
    "site_health",
    "weekly_active",
    "write_site_health",
]

RECENT_WEEKS = 4  # "lately": adoption, tickets, and the trend's recent part
TREND_WEEKS = 12  # the trend compares the last RECENT_WEEKS with the rest of these
ADOPTION_TARGET = 0.8  # share of licensed seats used in a week that earns full marks
BAD_SHARE = 0.25  # a quarter of users quiet (or never activated) loses the whole component
BAD_TICKETS = 0.25  # tickets per weekly active user in 4 weeks (one per four users): the whole component lost
COMPONENTS = {  # points out of 100: what users do weighs 90, what surrounds it 10
    "adoption": 30.0,
    "quiet": 25.0,
    "never_activated": 20.0,
    "trend": 15.0,
    "tickets": 5.0,
    "training": 5.0,
}
RISK_BANDS = {"high": 60.0, "medium": 70.0}  # score below 60: high; below 70: medium; else low
DRIVER_MIN_POINTS = 3.0  # points beyond the median site that make a component worth a CSM's line
MAX_DRIVERS = 3
NO_DRIVERS = "nothing stands out"


def site_facts(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """Per site: the raw counts behind the score as of the week `as_of` (the table macro
    pipelines/sql/core/site_facts.sql, which the runner creates once main.user_status exists)."""
    return con.sql(
        "select * from core.site_facts($as_of, $recent_weeks, $trend_weeks)",
        params={"as_of": as_of, "recent_weeks": RECENT_WEEKS, "trend_weeks": TREND_WEEKS},
    ).pl()


def beta_binomial_shrink(k: pl.Expr, n: pl.Expr) -> pl.Expr:
    """Posterior mean share (k + a) / (n + a + b) under a beta(a, b) prior fitted across
    the frame's rows by the method of moments (Kleinman 1973).

    The prior mean is the pooled share; its weight a + b = 1/rho - 1 comes from the
    intra-class correlation rho, read off how far the rows' shares spread beyond binomial
    noise. No spread beyond noise: everyone gets the pooled share. Rows with n = 0 get the
    prior mean; null n (nothing to measure) stays null.
    """
    n = n.cast(pl.Float64)
    has = n.is_not_null()
    k = pl.when(has).then(k.cast(pl.Float64))
    sites = (n > 0).sum()
    total = n.sum()
    mean = k.sum() / total
    share = k / n
    spread = (n * (share - mean) ** 2).filter(n > 0).sum() / (mean * (1 - mean))
    effective = total - (n**2).sum() / total
    rho = ((spread - (sites - 1)) / (effective - (sites - 1))).clip(1e-6, 1 - 1e-6)
    weight = (1 / rho - 1).fill_nan(None).fill_null(0.0)
    pooled = mean.fill_nan(None)
    return pl.when(has).then((k + weight * pooled) / (n + weight)).otherwise(None).fill_nan(pooled)


def gamma_poisson_shrink(k: pl.Expr, exposure: pl.Expr) -> pl.Expr:
    """Posterior mean rate (k + a) / (exposure + b) under a gamma(a, b) prior fitted
    across rows by the method of moments: mean a/b the pooled rate, variance a/b^2 the
    spread of the rows' rates beyond Poisson noise. No spread beyond noise: the pooled
    rate for everyone. Rows with no exposure get the prior mean."""
    k, exposure = k.cast(pl.Float64), exposure.cast(pl.Float64)
    total = exposure.sum()
    mean = k.sum() / total
    rate = k / exposure
    spread = (exposure * (rate - mean) ** 2).filter(exposure > 0).sum()
    sites = (exposure > 0).sum()
    variance = ((spread - (sites - 1) * mean) / (total - (exposure**2).sum() / total)).clip(1e-12, None)
    weight = (mean / variance).fill_nan(None).fill_null(0.0)  # b: exposure the prior is worth
    pooled = mean.fill_nan(None)
    return ((k + weight * pooled) / (exposure + weight)).fill_nan(pooled)


def _lost(points: float, badness: pl.Expr) -> pl.Expr:
    """Points a component loses: its weight times a badness clipped to [0, 1]."""
    return points * badness.clip(0.0, 1.0)


def _percent(share: pl.Expr) -> pl.Expr:
    """A share as a whole percentage; null where it has no denominator."""
    return pl.when(share.is_finite()).then((100 * share).round(0)).cast(pl.Int64)


def _positive(value: pl.Expr) -> pl.Expr:
    """The value where it can divide: null where it is zero or missing."""
    return pl.when(value > 0).then(value)


def weekly_active() -> pl.Expr:
    """Mean weekly active users over the last RECENT_WEEKS weeks."""
    return pl.col("recent_active_weeks") / RECENT_WEEKS


def active_user_trend() -> pl.Expr:
    """Weekly active users, last RECENT_WEEKS weeks over the weeks before them within
    TREND_WEEKS; null for a site live fewer than TREND_WEEKS weeks or unused before."""
    earlier = (pl.col("trend_active_weeks") - pl.col("recent_active_weeks")) / (TREND_WEEKS - RECENT_WEEKS)
    return pl.when(pl.col("trend_weeks") >= TREND_WEEKS).then(weekly_active() / _positive(earlier))


def _shrunk(facts: pl.DataFrame) -> pl.DataFrame:
    """The score's inputs, shrunk towards the portfolio; null where a site has none."""
    seat_weeks = RECENT_WEEKS * _positive(pl.col("licensed_seats"))
    trend_weeks = pl.when(pl.col("trend_weeks") >= TREND_WEEKS).then(pl.col("trend_active_weeks"))
    recent_share = beta_binomial_shrink(pl.col("recent_active_weeks"), trend_weeks)
    return facts.with_columns(
        beta_binomial_shrink(pl.min_horizontal("recent_active_weeks", seat_weeks), seat_weeks).alias("adoption"),
        beta_binomial_shrink(pl.col("quiet_users") + pl.col("silent_churn_users"), pl.col("users")).alias("quiet"),
        beta_binomial_shrink(pl.col("never_activated_users"), pl.col("users")).alias("never_activated"),
        (recent_share / RECENT_WEEKS / ((1 - recent_share) / (TREND_WEEKS - RECENT_WEEKS))).alias("trend"),
        gamma_poisson_shrink(pl.col("recent_tickets"), weekly_active()).alias("tickets"),
        beta_binomial_shrink(pl.col("trained_users"), pl.col("users")).alias("training"),
    )


def _points_lost() -> dict[str, pl.Expr]:
    """Per component, from its shrunk value: the points it costs the site."""
    return {
        "adoption": _lost(COMPONENTS["adoption"], 1 - pl.col("adoption") / ADOPTION_TARGET),
        "quiet": _lost(COMPONENTS["quiet"], pl.col("quiet") / BAD_SHARE),
        "never_activated": _lost(COMPONENTS["never_activated"], pl.col("never_activated") / BAD_SHARE),
        "trend": _lost(COMPONENTS["trend"], 2 - 2 * pl.col("trend")),
        "tickets": _lost(COMPONENTS["tickets"], pl.col("tickets") / BAD_TICKETS),
        "training": _lost(COMPONENTS["training"], 1 - pl.col("training")),
    }


def _lines() -> dict[str, pl.Expr]:
    """Per component, from the raw values: the line a CSM reads when it is a driver. No line
    (null) where the raw value shows nothing wrong: shrinkage towards the portfolio can cost a
    site points on a component it is clean on, but "0 of 5 users never used it" is no reason."""
    quiet = pl.col("quiet_users") + pl.col("silent_churn_users")
    used = weekly_active().round(0).cast(pl.Int64)
    trend = active_user_trend()
    return {
        "adoption": pl.format("only {} of {} licensed seats used in a typical week lately ({}%)", used,
                              pl.col("licensed_seats"), _percent(used / pl.col("licensed_seats"))),
        "quiet": pl.when(quiet > 0).then(
            pl.format("{} of {} users ({}%) went quiet or stopped without a ticket", quiet, pl.col("users"),
                      _percent(quiet / pl.col("users")))
        ),
        "never_activated": pl.when(pl.col("never_activated_users") > 0).then(
            pl.format("{} of {} users ({}%) never used it", pl.col("never_activated_users"), pl.col("users"),
                      _percent(pl.col("never_activated_users") / pl.col("users")))
        ),
        "trend": pl.when(trend < 1).then(
            pl.format("weekly active users down {}% on the 8 weeks before", _percent(1 - trend))
        ),
        "tickets": pl.when(pl.col("recent_tickets") > 0).then(
            pl.format("{} tickets per active user in the last 4 weeks", pl.col("tickets_per_active_user").round(2))
        ),
        "training": pl.when(pl.col("trained_users") == 0).then(pl.lit("no user trained yet"))
        .otherwise(pl.format("only {}% of users trained", _percent(pl.col("trained_share")))),
    }


def _risk() -> pl.Expr:
    return (
        pl.when(pl.col("health_score") < RISK_BANDS["high"]).then(pl.lit("high"))
        .when(pl.col("health_score") < RISK_BANDS["medium"]).then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )


def site_health(facts: pl.DataFrame) -> pl.DataFrame:
    """The contract's site_health rows from `site_facts`, worst score first."""
    raw = facts.with_columns(
        (pl.col("active_users") / _positive(pl.col("licensed_seats"))).alias("adoption_rate"),
        (pl.col("recent_tickets") / _positive(weekly_active())).alias("tickets_per_active_user"),
        (pl.col("trained_users") / _positive(pl.col("users"))).alias("trained_share"),
        active_user_trend().alias("active_user_trend"),
    )
    lost = _shrunk(raw).select(
        "site_id",
        *[points.alias(name) for name, points in _points_lost().items()],
        *[line.alias(f"{name}_line") for name, line in _lines().items()],
    )
    available = pl.sum_horizontal(pl.when(pl.col(name).is_not_null()).then(points).otherwise(0.0)
                                  for name, points in COMPONENTS.items())
    score = lost.select(
        "site_id", (100 * (1 - pl.sum_horizontal(*COMPONENTS) / available)).round(1).alias("health_score")
    )
    return (
        raw.join(score, on="site_id")
        .join(_drivers(lost), on="site_id", how="left")
        .with_columns(_risk().alias("risk"))
        .with_columns(
            pl.coalesce("drivers", pl.when(pl.col("risk") != "low").then("largest_losses"), pl.lit(NO_DRIVERS))
        )
        .select(
            "site_id", "name", "owner", "as_of", "licensed_seats", "users", "active_users", "adoption_rate",
            "quiet_users", "silent_churn_users", "never_activated_users", "tickets_per_active_user",
            "trained_share", "health_score", "risk", "drivers", "active_user_trend",
        )
        .sort("health_score", "site_id")
    )


def _drivers(lost: pl.DataFrame) -> pl.DataFrame:
    """Per site: the lines of the components that cost it the most points beyond what
    they cost the median site, worst first (`drivers`). What every site shares (a
    portfolio-wide dip, a typical share of quiet users) is no news to its CSM; but a site
    at risk always gets a reason, so `largest_losses` holds the lines of its costliest
    components whatever the median site loses."""
    long = pl.concat(
        [lost.select("site_id", pl.col(name).alias("points"), (pl.col(name) - pl.col(name).median()).alias("excess"),
                     pl.col(f"{name}_line").alias("line"))
         for name in COMPONENTS]
    ).filter(pl.col("line").is_not_null())
    return _worst_lines(long, "excess", "drivers").join(
        _worst_lines(long, "points", "largest_losses"), on="site_id", how="full", coalesce=True
    )


def _worst_lines(long: pl.DataFrame, by: str, name: str) -> pl.DataFrame:
    """Per site, the lines whose `by` is at least DRIVER_MIN_POINTS, worst first, joined."""
    return (
        long.filter(pl.col(by) >= DRIVER_MIN_POINTS)
        .sort(["site_id", by], descending=[False, True])
        .group_by("site_id", maintain_order=True)
        .agg(pl.col("line").head(MAX_DRIVERS).str.join("; ").alias(name))
    )


def write_site_health(ctx: BuildContext) -> None:
    """Build stage: score every site into main.site_health (needs main.user_status)."""
    ctx.write_table("site_health", site_health(site_facts(ctx.con, ctx.as_of)))
