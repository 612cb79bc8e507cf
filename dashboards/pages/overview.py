"""`/`: for executives. Is adoption growing, which sites are at risk, how much silent churn,
and does training help? Every number covers the sites the viewer may see."""
from __future__ import annotations

from typing import Any, NamedTuple

import dash
import dash_bootstrap_components as dbc
import duckdb
import polars as pl
from dash import dcc, html

from dashboards import ui
from dashboards.access import visible_sites
from dashboards.wording import count, day, points, share, training_sentence
from metrics.readers.catalog import has_table
from metrics.readers.held import held, sites_key
from metrics.readers.portfolio import flagged_by_drop_week, status_totals, weekly_activity
from metrics.readers.site_views import RISKS, site_ranking
from metrics.readers.training_views import headline, training_effects

dash.register_page(__name__, path="/", name="Overview", title="Adoption Radar: overview", order=0)

OVERVIEW_KPIS = "overview-kpis"
OVERVIEW_TREND = "overview-trend"
OVERVIEW_RISK = "overview-risk"
OVERVIEW_WORST = "overview-worst"
OVERVIEW_CHURN = "overview-churn"
OVERVIEW_TRAINING = "overview-training"

TITLE = "Adoption across your sites"
WORST_SHOWN = 5


class _OverviewReads(NamedTuple):  # a NamedTuple: Dash loads pages where a dataclass cannot find its module
    """What the page reads from the build for one site list."""

    weeks: pl.DataFrame
    statuses: dict[str, int]
    drops: pl.DataFrame
    ranking: pl.DataFrame | None
    effect: dict[str, Any] | None


def _read_overview(con: duckdb.DuckDBPyConnection, sites: list[str] | None) -> _OverviewReads:
    return _OverviewReads(
        weeks=weekly_activity(con, sites=sites),
        statuses=status_totals(con, sites=sites),
        drops=flagged_by_drop_week(con, sites=sites),
        ranking=site_ranking(con, sites=sites) if has_table(con, "site_health") else None,
        effect=headline(training_effects(con)) if has_table(con, "training_effect") else None,
    )


@ui.guarded
def layout(**_url_args: str) -> html.Div:
    with ui.database() as con:
        sites = visible_sites(con)
        info = ui.build_info(con)
        scope = sites_key(sites)
        weeks, statuses, drops, ranking, effect = held(con, ("overview_page", scope),
                                                       lambda: _read_overview(con, sites))
    if weeks.is_empty():
        return ui.page(TITLE, info, ui.notice("There is no activity for your sites in this file."))
    return ui.page(
        TITLE,
        info,
        _kpis(weeks, statuses, ranking, effect),
        _trend(weeks),
        dbc.Row(
            [
                dbc.Col(_risk(ranking), lg=5),
                dbc.Col(_churn(drops, statuses), lg=7),
            ]
        ),
    )


def _kpi(title: str, value: str, detail: str | list) -> dbc.Col:
    return dbc.Col(
        dbc.Card(
            dbc.CardBody([html.H2(title, className="h6 text-body-secondary"), html.P(value, className="fs-3 mb-1"),
                          html.P(detail, className="small mb-0")]),
            className="h-100",
        ),
        md=6,
        xl=3,
        className="mb-3",
    )


def _kpis(
    weeks: pl.DataFrame, statuses: dict[str, int], ranking: pl.DataFrame | None, effect: dict | None
) -> dbc.Row:
    last = weeks.row(-1, named=True)
    seats = last["licensed_seats"]
    seat_words = f", {share(last['active_users'] / seats)} of {count(seats)} licensed seats" if seats else ""
    if ranking is None:
        risk_value, risk_detail = "–", "Risk scores are not in this build yet."
    else:
        high = ranking.filter(pl.col("risk") == "high").height
        risk_value, risk_detail = count(high), f"of {count(ranking.height)} sites are at high risk."
    return dbc.Row(
        [
            _kpi("Weekly active users", count(last["active_users"]),
                 f"in the week of {day(last['week'])}: {share(last['active_share'])} of {count(last['users'])} "
                 f"enrolled{seat_words}."),
            _kpi("Sites at high risk", risk_value, risk_detail),
            _kpi("Silently churned users", count(statuses.get("silent_churn", 0)),
                 f"stopped without a ticket; {count(statuses.get('quiet', 0))} more went quiet."),
            _kpi("Training effect", "–" if effect is None else f"{points(effect['estimate'])} pts",
                 [html.Span(training_sentence(effect), id=OVERVIEW_TRAINING), " ",
                  dcc.Link("How this is measured", href="/training")]),
        ],
        id=OVERVIEW_KPIS,
        className="mt-2",
    )


def _trend(weeks: pl.DataFrame) -> html.Figure:
    figure = ui.figure(
        [
            ui.trace("scatter", x=weeks["week"], y=weeks["licensed_seats"], name="licensed seats",
                     line={"color": ui.GREY, "dash": "dot"}),
            ui.trace("scatter", x=weeks["week"], y=weeks["users"], name="enrolled users",
                     line={"color": ui.SKY, "dash": "dash"}),
            ui.trace("scatter", x=weeks["week"], y=weeks["active_users"], name="weekly active users",
                     line={"color": ui.BLUE, "width": 3}),
        ],
        title="Weekly active users against enrolled users and licensed seats",
        x_title="week (Monday)",
        y_title="users",
        yaxis={"rangemode": "tozero"},
    )
    first, last = weeks.row(0, named=True), weeks.row(-1, named=True)
    summary = (
        f"From the week of {day(first['week'])} to that of {day(last['week'])}, weekly active users went from "
        f"{count(first['active_users'])} to {count(last['active_users'])}; enrolled users from {count(first['users'])} "
        f"to {count(last['users'])}."
    )
    return ui.chart(OVERVIEW_TREND, figure, summary)


def _risk(ranking: pl.DataFrame | None) -> html.Section:
    if ranking is None:
        return ui.section("Sites by risk",
                          ui.notice("Risk scores are not in this build yet, so sites cannot be ranked."))
    if ranking.is_empty():
        return ui.section("Sites by risk", ui.notice("No site you can see has a risk score in this build."))
    counts = {risk: ranking.filter(pl.col("risk") == risk).height for risk in RISKS}
    figure = ui.figure(
        [
            ui.trace(
                "bar",
                x=list(counts.values()),
                y=[f"{risk} risk" for risk in counts],
                orientation="h",
                marker={"color": [ui.VERMILLION, ui.ORANGE, ui.GREEN]},
                text=[count(n) for n in counts.values()],
                textposition="auto",
            )
        ],
        x_title="sites",
        xaxis=ui.count_axis(max(counts.values())),
        yaxis={"autorange": "reversed"},
        height=200,
        showlegend=False,
    )
    summary = ", ".join(f"{count(n)} at {risk} risk" for risk, n in counts.items()) + "."
    worst = ranking.filter(pl.col("risk") == "high").head(WORST_SHOWN)
    return ui.section(
        "Sites by risk",
        ui.chart(OVERVIEW_RISK, figure, summary),
        html.H3("Highest risk", className="h6"),
        html.Ol(
            [html.Li([dcc.Link(row["name"], href=ui.site_href(row["site_id"])), " – ", row["drivers"] or ""])
             for row in worst.iter_rows(named=True)],
            id=OVERVIEW_WORST,
        ) if worst.height else html.P("No site is at high risk.", id=OVERVIEW_WORST),
    )


def _churn(drops: pl.DataFrame, statuses: dict[str, int]) -> html.Section:
    if drops.is_empty():
        return ui.section("Silent churn over time", ui.notice("Nobody is quiet or silently churned right now."))
    figure = ui.figure(
        [
            ui.trace("bar", x=part["drop_week"], y=part["users"], name=name,
                     marker={"color": colour, "pattern": {"shape": shape}})
            for status, name, colour, shape in [("silent_churn", "silently churned (stopped)", ui.VERMILLION, ""),
                                                ("quiet", "quiet (faded)", ui.ORANGE, "/")]
            if not (part := drops.filter(pl.col("status") == status)).is_empty()
        ],
        title="Users quiet or silently churned now, by the week their use dropped",
        x_title="week the drop began",
        y_title="users",
        xaxis={"tickformat": "%d %b"},
        yaxis=ui.count_axis(drops.group_by("drop_week").agg(pl.col("users").sum())["users"].max()),
        barmode="stack",
    )
    summary = (
        f"{count(statuses.get('silent_churn', 0))} users stopped and {count(statuses.get('quiet', 0))} faded without "
        f"filing a ticket; their drops began between the weeks of {day(drops['drop_week'].min())} and "
        f"{day(drops['drop_week'].max())}."
    )
    return ui.section("Silent churn over time", ui.chart(OVERVIEW_CHURN, figure, summary))
