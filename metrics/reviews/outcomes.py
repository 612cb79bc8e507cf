"""Does outreach help? The share of flagged users active again within 8 weeks, by what CSMs did.

Two comparisons, written as `outreach_outcomes` (one row per group) beside the flags they
count, `outreach_flags` (one row per flag: which users make up each number):

- observational: flags with a contact (all of them, and by outcome code), counted from the
  week of the first contact, against flags not (yet) contacted, counted from the week they were
  first flagged. CSMs choose whom to call, so this difference is no effect of calling.
- randomised_holdback, when the hold-back is on: flags drawn into the hold-back against flags
  that went to the queues (contacted or not: intention to treat), both counted from the week
  first flagged. The draw is a fixed hash of the flag, independent of anything a CSM knows, so
  this difference is the causal effect of putting a flag in front of CSMs.

Flags that came back before anyone saw them are the reason for the register: the build keeps
no earlier user_status, so the flags of the last FLAG_HISTORY_WEEKS weeks are scored again at
each week, as the build scored them then (the model judges each week with what it knew by it,
as in flag_backtest). Without that, only flags still standing at as_of would be counted as
not contacted, and those are the users who did not come back.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from metrics.quiet.active_history import active_weeks
from metrics.quiet.flag_backtest import sample_users
from metrics.quiet.quiet_users import read_user_weeks, score_at
from metrics.quiet.return_model import fit_return_model
from metrics.quiet.user_facts import user_facts, user_tickets
from metrics.reviews.flag_states import standing_actions
from metrics.reviews.holdback import SHARE_SETTING, Holdback, draw
from metrics.reviews.reviews_table import existing_store, read_actions, returned_within, week_of
from metrics.vocabulary import FLAGGED
from pipelines.build_context import BuildContext

__all__ = ["FLAGS_SCHEMA", "FLAG_HISTORY_WEEKS", "FOLLOW_UP_WEEKS", "OUTCOMES_SCHEMA", "first_contacts",
           "flag_register", "outcome_rows", "outreach_flags", "write_outreach_outcomes"]

FOLLOW_UP_WEEKS = 8
FLAG_HISTORY_WEEKS = 26  # weeks of past flags scored again (each costs about one user_status scoring)
FLAGS_SCHEMA = {"user_id": pl.String, "drop_week": pl.Date, "site_id": pl.String, "first_flagged_week": pl.Date,
                "contact_week": pl.Date, "outcome": pl.String, "start_week": pl.Date, "holdback_arm": pl.String,
                f"active_within_{FOLLOW_UP_WEEKS}_weeks": pl.Boolean}
OUTCOMES_SCHEMA = {"comparison": pl.String, "group": pl.String, "outcome": pl.String, "flags": pl.Int64,
                   "returned": pl.Int64, "share": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
                   "method": pl.String}
RETURNED = f"active_within_{FOLLOW_UP_WEEKS}_weeks"


def flag_register(con: duckdb.DuckDBPyConnection, weeks: pl.DataFrame, as_of: date, since: date) -> pl.DataFrame:
    """Every flag (user_id, drop_week) raised at some week from `since` (at most FLAG_HISTORY_WEEKS
    weeks back) to as_of, with the first week it was raised: the sampled users (as in
    flag_backtest: all of them up to BACKTEST_USERS) scored as of each week."""
    sample = sample_users(weeks["user_id"])
    weeks = weeks.filter(pl.col("user_id").is_in(sample.implode()))
    model = fit_return_model(active_weeks(weeks, as_of))
    first = max(since, as_of - timedelta(weeks=FLAG_HISTORY_WEEKS - 1))
    cuts = [as_of - timedelta(weeks=k) for k in range((as_of - first).days // 7, -1, -1)]
    flags = [
        score_at(user_facts(con, cut).filter(pl.col("user_id").is_in(sample.implode())), weeks,
                 user_tickets(con, cut), cut, model)
        .filter(pl.col("status").cast(pl.String).is_in(FLAGGED))
        .select("user_id", "drop_week", "site_id", pl.lit(cut).alias("first_flagged_week"))
        for cut in cuts
    ]
    if not flags:
        return pl.DataFrame(schema={k: FLAGS_SCHEMA[k] for k in ("user_id", "drop_week", "site_id", "first_flagged_week")})
    return pl.concat(flags).group_by("user_id", "drop_week").agg(pl.col("site_id").first(),
                                                                 pl.col("first_flagged_week").min())


def first_contacts(actions: pl.DataFrame) -> pl.DataFrame:
    """Per flag with a contact still standing (not undone): the first such contact's week and outcome."""
    return (
        standing_actions(actions).filter(pl.col("action") == "contacted")
        .sort("action_id")
        .group_by("user_id", "drop_week", maintain_order=True)
        .first()
        .select("user_id", "drop_week", "site_id", week_of(pl.col("at")).alias("contact_week"), "outcome")
    )


def outreach_flags(register: pl.DataFrame, actions: pl.DataFrame, weeks: pl.DataFrame, as_of: date,
                   holdback: Holdback, holdback_since: date | None) -> pl.DataFrame:
    """One row per flag raised in the register or contacted: when it starts (the first contact's week,
    else the week first flagged), whether the user was active in the FOLLOW_UP_WEEKS weeks after
    (null while not all known), and its hold-back arm (held_back or in_queues) when it was drawn
    while the hold-back was on, its hold-back weeks still open when first flagged; else null."""
    contacts = first_contacts(actions)
    flags = (
        register.join(contacts, on=["user_id", "drop_week"], how="full", coalesce=True)
        .with_columns(pl.coalesce("site_id", "site_id_right").alias("site_id"))
        .drop("site_id_right")
        .with_columns(pl.coalesce("contact_week", "first_flagged_week").alias("start_week"))
    )
    return flags.with_columns(
        _holdback_arms(flags, holdback, holdback_since),
        returned_within(flags, weeks, as_of, FOLLOW_UP_WEEKS),
    ).select(pl.col(name).cast(dtype) for name, dtype in FLAGS_SCHEMA.items()).sort("user_id", "drop_week")


def _holdback_arms(flags: pl.DataFrame, holdback: Holdback, since: date | None) -> pl.Series:
    """The arm of each flag in the randomised comparison: the draw decides, among flags first flagged
    after the hold-back was turned on and within its weeks of their drop week (the same rule for
    both arms, so only the draw tells them apart)."""
    if holdback.share <= 0 or holdback.weeks <= 0 or since is None:
        return pl.Series("holdback_arm", [None] * flags.height, dtype=pl.String)
    drawn = pl.Series([draw(user, week) < holdback.share for user, week in flags.select("user_id", "drop_week").rows()],
                      dtype=pl.Boolean)
    eligible = ((flags["first_flagged_week"] >= since)
                & (flags["drop_week"] + timedelta(weeks=holdback.weeks) > flags["first_flagged_week"])).fill_null(False)
    return pl.DataFrame({"eligible": eligible, "drawn": drawn}).select(
        pl.when("eligible").then(pl.when("drawn").then(pl.lit("held_back")).otherwise(pl.lit("in_queues")))
        .alias("holdback_arm")).to_series()


def _share_row(comparison: str, group: str, outcome: str | None, returned: int, flags: int) -> dict:
    low, high = proportion_confint(returned, flags, alpha=0.05, method="wilson")
    return {"comparison": comparison, "group": group, "outcome": outcome, "flags": flags, "returned": returned,
            "share": returned / flags, "ci_low": float(low), "ci_high": float(high), "method": "wilson"}


def outcome_rows(flags: pl.DataFrame) -> pl.DataFrame:
    """The `outreach_outcomes` rows from `outreach_flags`: the share active again within
    FOLLOW_UP_WEEKS weeks with its 95% Wilson interval, per group, over the flags whose weeks are
    known; and when both hold-back arms have flags, the difference in_queues - held_back with its
    95% Newcombe (hybrid Wilson) interval."""
    known = flags.filter(pl.col(RETURNED).is_not_null())
    contacted = known.filter(pl.col("contact_week").is_not_null())
    groups = [("observational", "contacted", None, contacted),
              *[("observational", "contacted", code, part) for (code,), part in
                contacted.sort("outcome").group_by("outcome", maintain_order=True)],
              ("observational", "not_contacted", None, known.filter(pl.col("contact_week").is_null())),
              *[("randomised_holdback", arm, None, known.filter(pl.col("holdback_arm") == arm))
                for arm in ("in_queues", "held_back")]]
    rows = [_share_row(comparison, group, outcome, int(part[RETURNED].sum()), part.height)
            for comparison, group, outcome, part in groups if part.height]
    arms = {row["group"]: row for row in rows if row["comparison"] == "randomised_holdback"}
    if len(arms) == 2:
        worked, held = arms["in_queues"], arms["held_back"]
        low, high = confint_proportions_2indep(worked["returned"], worked["flags"], held["returned"], held["flags"],
                                               compare="diff", method="newcomb")
        rows.append({"comparison": "randomised_holdback", "group": "difference", "outcome": None,
                     "flags": worked["flags"] + held["flags"], "returned": None,
                     "share": worked["share"] - held["share"], "ci_low": float(low), "ci_high": float(high),
                     "method": "newcomb_difference"})
    return pl.DataFrame(rows, schema=OUTCOMES_SCHEMA)


def monday(day: date) -> date:
    """The first day of the day's week."""
    return day - timedelta(days=day.weekday())


def write_outreach_outcomes(ctx: BuildContext) -> None:
    """Build stage: main.outreach_flags and main.outreach_outcomes; both empty without a store,
    or a store with neither an action nor the hold-back on."""
    store, actions = existing_store(ctx), read_actions(ctx)
    holdback = Holdback.from_store(store) if store is not None else Holdback(0.0, 0)
    if actions is None or (actions.is_empty() and holdback.share <= 0):
        flags = pl.DataFrame(schema=FLAGS_SCHEMA)
    else:
        weeks = ctx.shared("user_weeks", read_user_weeks)
        set_at = store.setting_changed_at(SHARE_SETTING) if holdback.share > 0 else None
        since = monday(set_at.date()) if set_at else None  # the week the hold-back share was last set
        first_action = actions["at"].min()
        starts = [d for d in (since, monday(first_action.date()) if first_action else None) if d is not None]
        register = flag_register(ctx.con, weeks, ctx.as_of, min(starts, default=ctx.as_of))
        flags = outreach_flags(register, actions, weeks, ctx.as_of, holdback, since)
    ctx.write_table("outreach_flags", flags)
    ctx.write_table("outreach_outcomes", outcome_rows(flags))
