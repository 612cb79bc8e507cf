"""Where adoption stops, as `/journey` and notebooks ask it: the funnel of `journey_funnel`
added up by any of its keys, the days each step took, tickets by phase, and which features
a site uses against the portfolio (`feature_adoption`).

Every function takes `sites`, the site ids the viewer may see (None for all), and filters by
it in SQL. The optional `site`, `role` and `cohort` (an invitation month, YYYY-MM) narrow the
rows further, as the page's query string does.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from metrics.readers.portfolio import visible

FunnelKey = str  # "site_id", "role" or "invite_month"
FUNNEL_KEYS = ("site_id", "role", "invite_month")
STEPS = ("invited", "activated", "first_value", "habitual", "still_active")
PHASES = ("invited", "activated", "first_value", "habitual")
NO_ROLE = "(no role)"


@dataclass(frozen=True)
class JourneyFilter:
    """The rows asked for: the sites the viewer may see, narrowed by site, role and cohort."""

    sites: list[str] | None
    site: str | None = None
    role: str | None = None
    cohort: str | None = None  # YYYY-MM

    def where(self, prefix: str = "") -> str:
        return (
            f"{visible(prefix + 'site_id')}"
            f" and ($site::varchar is null or {prefix}site_id = $site)"
            f" and ($role::varchar is null or coalesce({prefix}role, '{NO_ROLE}') = $role)"
            f" and ($cohort::varchar is null or strftime({prefix}invite_month, '%Y-%m') = $cohort)"
        )

    @property
    def params(self) -> dict[str, object]:
        return {"sites": self.sites, "site": self.site, "role": self.role, "cohort": self.cohort}


def first_value_defined(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the build had key actions to call first value (the features input)."""
    return con.sql("select count(*) filter (where first_value is not null) > 0 from journey_funnel").fetchall()[0][0]


def journey_funnel(
    con: duckdb.DuckDBPyConnection,
    by: FunnelKey | Sequence[FunnelKey] = "site_id",
    sites: list[str] | None = None,
    site: str | None = None,
    role: str | None = None,
    cohort: str | None = None,
) -> pl.DataFrame:
    """The funnel added up by `by` (any of site_id, role, invite_month; () for one total row):
    users at each step, users still in time for a step (pending), the conversion between
    steps leaving the pending out, and the share of the invited who are still active.

    For example `journey_funnel(con, by="role")` shows which role reaches first value least.
    """
    keys = [by] if isinstance(by, str) else list(by)
    unknown = [key for key in keys if key not in FUNNEL_KEYS]
    if unknown:
        raise ValueError(f"journey_funnel: by must be among {', '.join(FUNNEL_KEYS)}, not {', '.join(unknown)}")
    rows = JourneyFilter(sites, site, role, cohort)
    group = ", ".join(keys)
    return con.sql(
        f"""
        select
            {group + "," if keys else ""}
            sum(invited)::bigint as invited,
            sum(activated)::bigint as activated,
            sum(first_value)::bigint as first_value,
            sum(habitual)::bigint as habitual,
            sum(still_active)::bigint as still_active,
            sum(activation_pending)::bigint as activation_pending,
            sum(first_value_pending)::bigint as first_value_pending,
            sum(habitual_pending)::bigint as habitual_pending,
            sum(activated) / nullif(sum(invited) - sum(activation_pending), 0) as activation_rate,
            sum(first_value) / nullif(sum(activated) - sum(first_value_pending), 0) as first_value_rate,
            sum(habitual) / nullif(coalesce(sum(first_value), sum(activated)) - sum(habitual_pending), 0)
                as habitual_rate,
            sum(still_active) / nullif(sum(habitual), 0) as still_active_rate,
            sum(still_active) / nullif(sum(invited), 0) as still_active_of_invited
        from journey_funnel
        where {rows.where()}
        {"group by " + group + " order by " + group if keys else ""}
        """,
        params=rows.params,
    ).pl()


def journey_choices(con: duckdb.DuckDBPyConnection, sites: list[str] | None) -> dict[str, list[tuple[str, str]]]:
    """The values each filter offers the viewer, as (value, label): their sites, roles and cohorts."""
    rows = JourneyFilter(sites)
    site_rows = con.sql(
        f"""
        select distinct funnel.site_id, coalesce(sites.site_name, funnel.site_id) as name
        from journey_funnel as funnel left join core.sites as sites on funnel.site_id = sites.site_id
        where {visible("funnel.site_id")} order by name, funnel.site_id
        """,
        params={"sites": sites},
    ).fetchall()
    roles = con.sql(
        f"select distinct coalesce(role, '{NO_ROLE}') from journey_funnel where {rows.where()} order by 1",
        params=rows.params,
    ).fetchall()
    cohorts = con.sql(
        f"select distinct strftime(invite_month, '%Y-%m') from journey_funnel where {rows.where()} order by 1 desc",
        params=rows.params,
    ).fetchall()
    return {
        "site": [(site_id, name) for site_id, name in site_rows],
        "role": [(role, role) for (role,) in roles],
        "cohort": [(month, month) for (month,) in cohorts],
    }


def step_days(con: duckdb.DuckDBPyConnection, rows: JourneyFilter) -> pl.DataFrame:
    """Per role, the median days each step took, over the users who made it (from user_journey)."""
    return con.sql(
        f"""
        select
            coalesce(role, '{NO_ROLE}') as role,
            count(*) as users,
            median(date_diff('second', invited_at, activated_at) / 86400) as days_to_activation,
            median(date_diff('second', activated_at, first_value_at) / 86400) as days_to_first_value,
            median(date_diff('second', coalesce(first_value_at, activated_at), habitual_at) / 86400)
                as days_to_habitual
        from (select *, date_trunc('month', invited_at)::date as invite_month from user_journey)
        where {rows.where()}
        group by all
        order by role
        """,
        params=rows.params,
    ).pl()


def tickets_by_phase(con: duckdb.DuckDBPyConnection, rows: JourneyFilter) -> pl.DataFrame:
    """Tickets filed in each phase of the journey, by category, and per invited user."""
    return con.sql(
        f"""
        with funnel as (select * from journey_funnel where {rows.where()}),
        invited as (select sum(invited) as invited from funnel),
        tickets as (select unnest(tickets_per_user_by_phase, recursive := true) from funnel)
        select
            phase,
            category,
            sum(tickets)::bigint as tickets,
            sum(tickets) / nullif((select invited from invited), 0) as per_user
        from tickets
        group by phase, category
        order by list_position({list(PHASES)}, phase), tickets desc, category
        """,
        params=rows.params,
    ).pl()


def site_features(con: duckdb.DuckDBPyConnection, site: str, sites: list[str] | None) -> pl.DataFrame:
    """The site's use of each feature now and in the 8 weeks before, beside the portfolio's."""
    return con.sql(
        f"""
        select feature, users, users_recent, share_recent, share_before, portfolio_share
        from feature_adoption
        where site_id = $site and {visible("site_id")}
        order by portfolio_share desc nulls last, feature
        """,
        params={"site": site, "sites": sites},
    ).pl()


def feature_gaps(con: duckdb.DuckDBPyConnection, sites: list[str] | None, min_users: int = 5) -> pl.DataFrame:
    """Features a site uses at less than half the portfolio's share (sites with at least
    `min_users` users), the widest gaps first: "this site never picked up order entry"."""
    return con.sql(
        f"""
        select adoption.site_id, coalesce(names.site_name, adoption.site_id) as name, adoption.feature,
            adoption.users, adoption.share_recent, adoption.share_before, adoption.portfolio_share
        from feature_adoption as adoption
        left join core.sites as names on adoption.site_id = names.site_id
        where {visible("adoption.site_id")}
            and adoption.users >= $min_users
            and adoption.share_recent < adoption.portfolio_share / 2
        order by adoption.portfolio_share - adoption.share_recent desc, adoption.site_id, adoption.feature
        """,
        params={"sites": sites, "min_users": min_users},
    ).pl()
