"""`/journey`: where adoption stops. The funnel from invitation to habitual use, by site, role
and invitation month (filters in the query string: `/journey?site=s001&role=nurse&cohort=2026-03`,
a link that can be shared), how long each step takes per role, the tickets filed in each
phase, and which features a site uses against the portfolio.

The filters are a plain GET form: choosing and pressing "Show" loads the filtered address.
A site the viewer may not see filters nothing, exactly like one that does not exist."""
from __future__ import annotations

from dataclasses import asdict
from itertools import cycle
from typing import NamedTuple
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import duckdb
import polars as pl
from dash import dcc, html

from dashboards import ui
from dashboards.access import visible_sites
from dashboards.wording import count, share
from metrics.readers.catalog import has_table
from metrics.readers.held import held, sites_key
from metrics.readers.journey_views import (
    JourneyFilter,
    feature_gaps,
    first_value_defined,
    journey_choices,
    journey_funnel,
    site_features,
    step_days,
    tickets_by_phase,
)

dash.register_page(__name__, path="/journey", name="Journey", title="Adoption Radar: where adoption stops", order=2.5)

JOURNEY_FILTERS = "journey-filters"
JOURNEY_FUNNEL = "journey-funnel"
JOURNEY_BY_SITE = "journey-by-site"
JOURNEY_DAYS = "journey-days"
JOURNEY_TICKETS = "journey-tickets"
JOURNEY_FEATURES = "journey-features"

TITLE = "Where adoption stops"
LEAD = (
    "From invitation to habitual use: how many users reach each step, how long it takes, and what they asked "
    "support on the way. Users still in time for a step (invited in the last two weeks, say) are counted as "
    "pending, not as stopped."
)
STEP_LABELS = {
    "invited": "Invited",
    "activated": "Activated (first use)",
    "first_value": "First value (first key action)",
    "habitual": "Habitual (3 of 4 weeks)",
    "still_active": "Still active",
}
REACHED = {
    "activated": "used it",
    "first_value": "did a key action",
    "habitual": "became habitual",
    "still_active": "are still active",
}
PHASE_LABELS = {
    "invited": "before first use",
    "activated": "after first use, before first value",
    "first_value": "after first value, before habitual",
    "habitual": "habitual",
}
COLOURS = [ui.BLUE, ui.ORANGE, ui.SKY, ui.GREEN, ui.VERMILLION, ui.PURPLE, ui.GREY]
SITES_SHOWN = 25


class _JourneyReads(NamedTuple):  # a NamedTuple: Dash loads pages where a dataclass cannot find its module
    """What the page reads from the build for one site list and filters."""

    defined: bool
    total: pl.DataFrame
    by_site: pl.DataFrame | None
    days: pl.DataFrame
    tickets: pl.DataFrame
    features: pl.DataFrame


def _read_journey(con: duckdb.DuckDBPyConnection, sites: list[str] | None,
                  chosen: dict[str, str | None]) -> _JourneyReads:
    rows = JourneyFilter(sites, **chosen)
    return _JourneyReads(
        defined=first_value_defined(con),
        total=journey_funnel(con, by=(), **asdict(rows)),
        by_site=journey_funnel(con, by="site_id", **asdict(rows)) if not chosen["site"] else None,
        days=step_days(con, rows),
        tickets=tickets_by_phase(con, rows),
        features=site_features(con, chosen["site"], sites) if chosen["site"] else feature_gaps(con, sites),
    )


@ui.guarded
def layout(site: str | list[str] | None = None, role: str | list[str] | None = None,
           cohort: str | list[str] | None = None, **_other: str) -> html.Div:
    with ui.database() as con:
        info = ui.build_info(con)
        if not has_table(con, "journey_funnel"):
            return ui.page(TITLE, info, ui.notice(
                "The journey is not in this build (its journey_funnel table is missing). Rebuild with the adoption "
                "build command."), lead=LEAD)
        sites = visible_sites(con)
        scope = sites_key(sites)
        choices = held(con, ("journey_choices", scope), lambda: journey_choices(con, sites))
        asked = {"site": ui.filter_value(site), "role": ui.filter_value(role), "cohort": ui.filter_value(cohort)}
        # a value the viewer is not offered (another CSM's site, a typo) filters nothing
        chosen = {key: value if value in {v for v, _ in choices[key]} else None for key, value in asked.items()}
        # read once per build file, site list and filters (only values offered, so the held set stays small)
        reads = held(con, ("journey_page", scope, *chosen.values()), lambda: _read_journey(con, sites, chosen))
        defined, total, by_site, days, tickets, features = reads
        names = dict(choices["site"])
    ui.log_access("journey_view", chosen["site"], int(total["invited"][0] or 0),
                  urlencode({k: v for k, v in chosen.items() if v}) or None)
    return ui.page(
        TITLE,
        info,
        _filters(choices, chosen),
        None if defined else ui.notice(
            "First value is not defined for this build: the input has no features file naming key actions "
            "(is_key_action), so the funnel leaves that step out rather than invent one."),
        _funnel(total, defined),
        None if by_site is None else _by_site(by_site, names, defined),
        _days(days, defined),
        _tickets(tickets),
        _features(features, chosen["site"], names),
        lead=LEAD,
    )


def _filters(choices: dict[str, list[tuple[str, str]]], chosen: dict[str, str | None]) -> html.Form:
    def select(key: str, label: str) -> dbc.Col:
        return ui.filter_select(f"journey-{key}", label, choices[key], chosen[key], name=key, md=3)

    return html.Form(
        dbc.Row([select("site", "Site"), select("role", "Role"), select("cohort", "Invited in (month)"),
                 dbc.Col(html.Button("Show", type="submit", className="btn btn-primary"), md=3,
                         className="mb-2 d-flex align-items-end")]),
        method="GET",
        action="/journey",
        id=JOURNEY_FILTERS,
        role="search",
        **{"aria-label": "Filter the journey"},
    )


def _steps(defined: bool) -> list[str]:
    return [step for step in STEP_LABELS if defined or step != "first_value"]


def _funnel(total: pl.DataFrame, defined: bool) -> html.Section:
    title = "The funnel"
    row = total.row(0, named=True)
    if not row["invited"]:
        return ui.section(title, ui.notice("No user matches these filters."))
    steps = _steps(defined)
    values = [row[step] or 0 for step in steps]
    figure = ui.figure(
        [ui.trace("funnel", y=[STEP_LABELS[s] for s in steps], x=values, textinfo="value+percent initial",
                  marker={"color": ui.BLUE}, hovertemplate="%{y}: %{x:,d} users<extra></extra>")],
        title="Users reaching each step",
        yaxis={"autorange": "reversed"},
        margin={"l": 210, "r": 20, "t": 60, "b": 30},
    )
    pending = [f"{count(row['activation_pending'])} still in time to activate"]
    if defined:
        pending.append(f"{count(row['first_value_pending'])} to reach first value")
    pending.append(f"{count(row['habitual_pending'])} to become habitual")
    rates = [f"activation {share(row['activation_rate'])}"]
    if defined:
        rates.append(f"first value {share(row['first_value_rate'])}")
    rates += [f"habitual {share(row['habitual_rate'])}", f"still active {share(row['still_active_rate'])}"]
    summary = (
        f"Of {count(row['invited'])} users invited, "
        + ", ".join(f"{count(v)} {REACHED[s]}" for s, v in zip(steps[1:], values[1:]))
        + f". Conversion from the step before, leaving out users still in time: {', '.join(rates)}. "
        + f"Pending: {', '.join(pending)}."
    )
    return ui.section(title, ui.chart(JOURNEY_FUNNEL, figure, summary))


def _by_site(by_site: pl.DataFrame, names: dict[str, str], defined: bool) -> html.Section:
    """Sites where the most users stop: lowest conversion to first value (to habitual without it) first."""
    key = "first_value_rate" if defined else "habitual_rate"
    worst = by_site.sort(pl.col(key).fill_null(2.0), "site_id").head(SITES_SHOWN)
    header = ["Site", "Invited", "Activated", *(["First value"] if defined else []), "Habitual", "Still active",
              "Pending"]
    rows = [
        [
            dcc.Link(names.get(r["site_id"], r["site_id"]),
                     href="/journey?" + urlencode({"site": r["site_id"]})),
            count(r["invited"]),
            share(r["activation_rate"]),
            *([share(r["first_value_rate"])] if defined else []),
            share(r["habitual_rate"]),
            share(r["still_active_rate"]),
            count((r["activation_pending"] or 0) + (r["first_value_pending"] or 0) + (r["habitual_pending"] or 0)),
        ]
        for r in worst.iter_rows(named=True)
    ]
    step = "first value" if defined else "habitual use"
    return ui.section(
        "Where users stop, by site",
        html.P(f"The {count(worst.height)} sites (of {count(by_site.height)}) where fewest users reach {step}, "
               "worst first. Rates are conversions from the step before, users still in time left out.",
               className="small"),
        ui.table("Conversion between steps by site: each rate is of the users who reached the step before", header, rows, id=JOURNEY_BY_SITE,
                 numeric=list(range(1, len(header)))),
    )


def _days(days: pl.DataFrame, defined: bool) -> html.Section:
    title = "How long each step takes"
    if days.is_empty():
        return ui.section(title, ui.notice("No user matches these filters."))
    steps = [("days_to_activation", "invitation to first use", ui.SKY)]
    if defined:
        steps.append(("days_to_first_value", "first use to first value", ui.BLUE))
    steps.append(("days_to_habitual", "to habitual use", ui.ORANGE))
    figure = ui.figure(
        [ui.trace("bar", x=ui.chart_text(days["role"]), y=days[column].round(1), name=label, marker={"color": colour})
         for column, label, colour in steps],
        title="Median days per step, by role",
        y_title="days (median)",
        barmode="group",
    )
    slowest = days.drop_nulls(steps[1][0]).sort(steps[1][0], descending=True).head(1)
    summary = "Median days from each step to the next, over the users who made it, by role."
    if slowest.height:
        summary += (f" Slowest from first use to {'first value' if defined else 'habitual use'}: "
                    f"{slowest['role'][0]}, {slowest[steps[1][0]][0]:.0f} days.")
    return ui.section(title, ui.chart(JOURNEY_DAYS, figure, summary))


def _tickets(tickets: pl.DataFrame) -> html.Section:
    title = "Tickets by phase"
    if tickets.is_empty():
        return ui.section(title, ui.notice("These users filed no ticket."))
    categories = tickets["category"].unique(maintain_order=True).sort().to_list()
    phases = [p for p in PHASE_LABELS if p in set(tickets["phase"])]
    traces = []
    for colour, category in zip(cycle(COLOURS), categories):
        mine = tickets.filter(pl.col("category") == category)
        per = dict(zip(mine["phase"], mine["per_user"]))
        traces.append(ui.trace("bar", x=[PHASE_LABELS[p] for p in phases], y=[per.get(p, 0) for p in phases],
                               name=str(ui.chart_text(pl.Series([category]))[0]), marker={"color": colour}))
    figure = ui.figure(traces, title="Tickets per invited user, by the phase the user was in when filing",
                       y_title="tickets per user", barmode="stack")
    onboarding = tickets.filter(pl.col("phase") == "invited")["tickets"].sum()
    summary = (f"{count(tickets['tickets'].sum())} tickets, {count(onboarding)} of them before the user's first use "
               "(onboarding evidence). Categories stacked per phase.")
    return ui.section(title, ui.chart(JOURNEY_TICKETS, figure, summary))


def _features(features: pl.DataFrame, site: str | None, names: dict[str, str]) -> html.Section:
    title = "Which features are used"
    if site is None:
        if features.is_empty():
            return ui.section(title, ui.notice(
                "No site uses a feature at less than half the portfolio's share (or the input has no features)."))
        rows = [
            [dcc.Link(r["name"], href="/journey?" + urlencode({"site": r["site_id"]})), r["feature"],
             share(r["share_recent"]), share(r["share_before"]), share(r["portfolio_share"]), count(r["users"])]
            for r in features.head(SITES_SHOWN).iter_rows(named=True)
        ]
        return ui.section(
            title,
            html.P("Features a site uses at less than half the portfolio's share, widest gap first. Choose a "
                   "site to see all its features.", className="small"),
            ui.table("Features sites lag the portfolio on (share of users using it in the last 4 weeks)",
                     ["Site", "Feature", "Last 4 weeks", "8 weeks before", "Portfolio", "Users"], rows,
                     id=JOURNEY_FEATURES, numeric=[2, 3, 4, 5]),
        )
    if features.is_empty():
        return ui.section(title, ui.notice("The input has no features file, so feature use is not measured."))
    label = ui.chart_text(features["feature"])
    figure = ui.figure(
        [ui.trace("bar", y=label, x=features["share_recent"], orientation="h", name=names.get(site, site),
                  marker={"color": ui.BLUE}),
         ui.trace("bar", y=label, x=features["portfolio_share"], orientation="h", name="all sites",
                  marker={"color": ui.GREY})],
        title="Share of users using each feature in the last 4 weeks",
        xaxis={"tickformat": ".0%", "range": [0, 1]},
        yaxis={"autorange": "reversed"},
        barmode="group",
        height=max(300, 60 * features.height),
    )
    lagging = features.filter(pl.col("share_recent") < pl.col("portfolio_share") / 2)
    summary = (f"{count(features.height)} features. "
               + (("Used by less than half the portfolio's share: " + ", ".join(
                   f"{r['feature']} ({share(r['share_recent'])} against {share(r['portfolio_share'])})"
                   for r in lagging.iter_rows(named=True)) + ".") if lagging.height else
                  "The site uses every feature at least half as widely as the portfolio."))
    return ui.section(title, ui.chart(JOURNEY_FEATURES, figure, summary))
