"""Cohort questions an analyst asks first, each one call returning a polars frame."""
from __future__ import annotations

from datetime import date
from typing import Literal

import duckdb
import polars as pl

from metrics.readers.portfolio import visible
from metrics.vocabulary import FLAGGED

Cohort = Literal["invite_week", "invite_month", "role", "site"]

_COHORT_SQL = {
    "invite_week": "date_trunc('week', members.invited_at)::date::varchar",
    "invite_month": "strftime(members.invited_at, '%Y-%m')",
    "role": "coalesce(members.role, 'unknown')",
    "site": "members.site_id",
}


def cohort_retention(
    con: duckdb.DuckDBPyConnection, by: Cohort = "invite_month", sites: list[str] | None = None, max_weeks: int = 26
) -> pl.DataFrame:
    """Share of each cohort's enrolled users active in each week since their invitation.

    One row per cohort and `weeks_since_invite` (0 = the invitation week), up to max_weeks:
    cohort, weeks_since_invite, users (enrolled that week), active_users, retention.
    A cohort's later weeks have fewer users when its members were invited recently.
    """
    return con.sql(
        f"""
        select
            {_COHORT_SQL[by]} as cohort,
            ((user_weeks.week - date_trunc('week', members.invited_at)::date) // 7)::integer as weeks_since_invite,
            count(*) filter (where user_weeks.is_enrolled) as users,
            count(*) filter (where user_weeks.is_enrolled and user_weeks.events > 0) as active_users,
            active_users / nullif(users, 0) as retention
        from user_weeks
        inner join core.users as members on user_weeks.user_id = members.user_id
        where {visible("user_weeks.site_id")}
        group by cohort, weeks_since_invite
        having weeks_since_invite <= $max_weeks
        order by cohort, weeks_since_invite
        """,
        params={"sites": sites, "max_weeks": max_weeks},
    ).pl()


def went_quiet(
    con: duckdb.DuckDBPyConnection, start: date, end: date, sites: list[str] | None = None
) -> pl.DataFrame:
    """Users flagged quiet or silent_churn whose drop began between start and end (inclusive).

    With their site, role, invitation week and month, drop week and the reason sentence, so a
    group_by on `invite_month` answers "which cohort went quiet after go-live?".
    """
    return con.sql(
        f"""
        select
            user_status.user_id,
            user_status.site_id,
            user_status.role,
            date_trunc('week', users.invited_at)::date as invite_week,
            strftime(users.invited_at, '%Y-%m') as invite_month,
            user_status.status,
            user_status.drop_week,
            user_status.last_active_at,
            user_status.reason
        from user_status
        inner join core.users as users on user_status.user_id = users.user_id
        where user_status.status = any($flagged)
            and user_status.drop_week between $start and $end
            and {visible("user_status.site_id")}
        order by user_status.drop_week, user_status.user_id
        """,
        params={"start": start, "end": end, "sites": sites, "flagged": list(FLAGGED)},
    ).pl()


def training_before_after(con: duckdb.DuckDBPyConnection, site_id: str, weeks: int = 8) -> pl.DataFrame:
    """The site's weekly active rate in the weeks around its first training session.

    One row per week within `weeks` of the first session: week, weeks_from_training
    (0 = the training week), users, active_users, active_rate, period ('before'/'after').
    Empty when the site was never trained. A raw before/after view: the training page's
    difference-in-differences estimate is the one that corrects for trends.
    """
    return con.sql(
        """
        with first_training as (
            select date_trunc('week', min(session_date))::date as training_week
            from core.trainings
            where site_id = $site_id and attended
        )
        select
            site_weeks.week,
            ((site_weeks.week - first_training.training_week) // 7)::integer as weeks_from_training,
            site_weeks.users,
            site_weeks.active_users,
            site_weeks.active_users / nullif(site_weeks.users, 0) as active_rate,
            case when site_weeks.week < first_training.training_week then 'before' else 'after' end as period
        from site_weeks
        cross join first_training
        where site_weeks.site_id = $site_id
            and abs((site_weeks.week - first_training.training_week) // 7) <= $weeks
        order by site_weeks.week
        """,
        params={"site_id": site_id, "weeks": weeks},
    ).pl()
