"""`/sites/<site_id>`: one site for its customer success manager. How its use is trending,
who went quiet or stopped without a ticket (since when, and why), a CSV to work the list,
its recent tickets and its training.

A site the viewer may not see reads exactly like one that does not exist: "not found".
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any, NamedTuple
from urllib.parse import unquote, urlencode

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import duckdb
import polars as pl
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards import ui
from dashboards.access import viewer_name, visible_sites
from dashboards.csv_export import spreadsheet_safe_csv
from dashboards.review_store import review_store
from dashboards.wording import STATUS_LABELS, count, day, moment, share
from metrics.readers.catalog import has_table
from metrics.readers.held import held, sites_key
from metrics.vocabulary import STATUSES
from metrics.readers.site_views import (
    RECENT_WEEKS,
    drop_weeks,
    flagged_users,
    site_health_row,
    site_profile,
    site_tickets,
    site_trend,
    site_users,
    status_counts,
    ticket_categories,
    training_sessions,
)
from metrics.readers.store import BuildInfo
from metrics.reviews.queue import OUTCOME_LABELS, read_reviews, with_review_state

dash.register_page(__name__, path_template="/sites/<site_id>", name="Site", title="Adoption Radar: site", nav=False)

SITE_KEY = "site-key"
SITE_TREND = "site-trend"
SITE_USERS = "site-users"
SITE_DOWNLOAD_BUTTON = "site-download-button"
SITE_DOWNLOAD = "site-download"
SITE_DOWNLOAD_STATUS = "site-download-status"
SITE_TICKETS = "site-tickets"
SITE_TICKET_LIST = "site-ticket-list"
SITE_TRAINING = "site-training"
SITE_NEW = "site-new"
SITE_JOURNEY = "site-journey"

LATEST_TICKETS = 10


class _SiteReads(NamedTuple):  # a NamedTuple: Dash loads pages where a dataclass cannot find its module
    """What the page reads of one site from the build: the same for every request on one file."""

    health: dict[str, Any] | None
    trend: pl.DataFrame
    users: pl.DataFrame | None
    tickets: pl.DataFrame
    sessions: pl.DataFrame


def _read_site(con: duckdb.DuckDBPyConnection, key: str, as_of: date, sites: list[str] | None) -> _SiteReads:
    return _SiteReads(
        health=site_health_row(con, key, sites=sites) if has_table(con, "site_health") else None,
        trend=site_trend(con, key, sites=sites),
        users=site_users(con, key, sites=sites) if has_table(con, "user_status") else None,
        tickets=site_tickets(con, key, as_of, sites=sites),
        sessions=training_sessions(con, key, as_of, sites=sites),
    )


@ui.guarded
def layout(site_id: str | None = None, **_other: str) -> html.Div:
    key = unquote(site_id) if site_id else None
    with ui.database() as con:
        sites = visible_sites(con)
        info = ui.build_info(con)
        profile = site_profile(con, key, sites=sites) if key else None
        if profile is None:
            return _not_found(info)
        if info is None:
            return ui.page(profile["name"], info, ui.notice("This file has no finished build to show."))
        # read once per build file, site and site list (a CSM opens the same sites all day), and only
        # for a site that exists and may be seen, so addresses made up cannot fill what is held
        scope = sites_key(sites)
        reads = held(con, ("site_page", key, info.as_of, scope), lambda: _read_site(con, key, info.as_of, sites))
    health, trend, users, tickets, sessions = reads.health, reads.trend, reads.users, reads.tickets, reads.sessions
    flagged = None if users is None else _reviewed(flagged_users(users), key, info.as_of)
    ui.log_access("site_view", key, 0 if flagged is None else flagged.height)
    return ui.page(
        profile["name"],
        info,
        dcc.Store(id=SITE_KEY, data=key),
        dbc.Breadcrumb(items=[{"label": "Sites", "href": "/sites"}, {"label": profile["name"], "active": True}]),
        _summary(profile, health, None if users is None else status_counts(users)),
        html.P(dcc.Link("Where this site's users stop: its adoption journey and feature use",
                        href="/journey?" + urlencode({"site": key}), id=SITE_JOURNEY)),
        _trend(trend, None if users is None else drop_weeks(users)),
        _flagged(flagged),
        dbc.Row([dbc.Col(_tickets(ticket_categories(tickets, info.as_of), tickets.head(LATEST_TICKETS)), lg=7),
                 dbc.Col(_training(sessions), lg=5)]),
    )


def _reviewed(flagged: pl.DataFrame, site_id: str, as_of: date) -> pl.DataFrame:
    """The site's flags with where each stands for the person asking (the store's review state)."""
    return with_review_state(flagged.with_columns(pl.lit(site_id).alias("site_id")), read_reviews(review_store()),
                             viewer_name(), date.today(), as_of)


def _not_found(info: BuildInfo | None) -> html.Div:
    return ui.page(
        "Site not found",
        info,
        ui.notice(["There is no site at this address that you can see. Check the link, or ",
                   dcc.Link("pick a site from the list", href="/sites"), "."]),
    )


def _summary(profile: dict[str, Any], health: dict[str, Any] | None, statuses: dict[str, int] | None) -> html.Div:
    facts = [
        f"Region: {profile['region'] or 'not given'}",
        f"owner: {profile['owner'] or 'not given'}",
        f"licensed seats: {count(profile['licensed_seats'])}",
        f"live since {day(profile['go_live_date'])}",
    ]
    parts = [html.P("; ".join(facts) + ".")]
    if statuses is not None:
        users = ", ".join(f"{count(statuses[s])} {STATUS_LABELS[s]}" for s in STATUSES if statuses.get(s))
        parts.append(html.P(f"Users now: {users or 'none'}."))
    if health is None:
        parts.insert(0, html.P([ui.risk_badge(None), " Risk scores are not in this build yet."]))
    else:
        score = "–" if health["health_score"] is None else f"{health['health_score']:.0f}"
        parts.insert(0, html.P([ui.risk_badge(health["risk"]), f" Health score {score} (higher is healthier). ",
                                f"What pulls it down: {health['drivers'] or 'nothing stands out'}."]))
    return html.Div(parts)


def _trend(trend: pl.DataFrame, drops: pl.DataFrame | None) -> html.Figure | html.Div:
    """Weekly use, with a mark where each drop of a user quiet or silently churned now began."""
    if trend.is_empty():
        return ui.notice("This site has no weeks of activity yet.")
    traces = [
        ui.trace("scatter", x=trend["week"], y=trend["users"], name="enrolled users",
                 line={"color": ui.SKY, "dash": "dash"}),
        ui.trace("scatter", x=trend["week"], y=trend["active_users"], name="weekly active users",
                 line={"color": ui.BLUE, "width": 3}),
    ]
    last = trend.row(-1, named=True)
    summary = (
        f"In the week of {day(last['week'])}, {count(last['active_users'])} of {count(last['users'])} enrolled users "
        f"were active ({share(last['active_users'] / last['users'] if last['users'] else None)}). "
    )
    dropped = trend.join(drops, on="week") if drops is not None else trend.clear()
    if dropped.height:
        traces.append(ui.trace(
            "scatter",
            x=dropped["week"],
            y=dropped["active_users"],
            name="drops of users quiet or silently churned now",
            mode="markers+text",
            marker={"symbol": "x", "size": 12, "color": ui.VERMILLION, "line": {"width": 1}},
            text=dropped["n_dropped"],
            textposition="top center",
            customdata=ui.chart_text(dropped["dropped"]),
            hovertemplate="%{text} dropped in the week of %{x}: %{customdata}<extra></extra>",
        ))
        summary += (f"{count(dropped['n_dropped'].sum())} users now quiet or silently churned began their drop "
                    f"between the weeks of {day(dropped['week'].min())} and {day(dropped['week'].max())}.")
    elif drops is not None:
        summary += "Nobody here is quiet or silently churned now."
    figure = ui.figure(traces, title="Weekly active users; ✕ marks the weeks quiet users' drops began",
                       x_title="week (Monday)", y_title="users", yaxis={"rangemode": "tozero"})
    return ui.chart(SITE_TREND, figure, summary)


def _grid_rows(users: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows for the grid, dates as ISO text so that sorting and filtering work as text."""
    return users.select(
        "user_id",
        "role",
        pl.col("status").replace_strict(STATUS_LABELS, default=pl.col("status")),
        pl.col("drop_week").dt.strftime("%Y-%m-%d"),
        pl.col("last_active_at").dt.strftime("%Y-%m-%d"),
        pl.col("last_ticket_at").dt.strftime("%Y-%m-%d"),
        pl.when(pl.col("trained")).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("trained"),
        review_label(),
        pl.col("feature_stopped_first").fill_null(""),
        "reason",
    ).to_dicts()


def review_label() -> pl.Expr:
    """Where a flag stands, in words: contacted (with the outcome), snoozed until a date, held back
    by the experiment, new, or back to review (a snooze over, or named in a digest)."""
    outcome = pl.col("outcome").replace_strict(OUTCOME_LABELS, default=pl.col("outcome"))
    return (
        pl.when(pl.col("review_state") == "contacted").then(pl.lit("contacted: ") + outcome)
        .when((pl.col("review_state") == "snoozed") & ~pl.col("due"))
        .then(pl.lit("snoozed until ") + pl.col("snoozed_until").dt.strftime("%Y-%m-%d"))
        .when(pl.col("held_back")).then(pl.lit("held back (experiment)"))
        .when(pl.col("new")).then(pl.lit("new"))
        .otherwise(pl.lit("to review"))
        .alias("review")
    )


# Dates as ISO text with a text filter: "2026-09" finds September.
COLUMNS = [
    {"field": "user_id", "headerName": "User", "width": 85},
    {"field": "role", "headerName": "Role", "width": 105},
    {"field": "status", "headerName": "Status", "width": 135},
    {"field": "drop_week", "headerName": "Since (week of)", "width": 105, "sort": "asc", "cellDataType": "text"},
    {"field": "last_active_at", "headerName": "Last active", "width": 105, "cellDataType": "text"},
    {"field": "last_ticket_at", "headerName": "Last ticket", "width": 105, "cellDataType": "text"},
    {"field": "trained", "headerName": "Trained", "width": 80},
    {"field": "review", "headerName": "Review", "width": 90, **ui.WRAPPED},
    {"field": "feature_stopped_first", "headerName": "Stopped first (train on)", "width": 105, **ui.WRAPPED},
    {"field": "reason", "headerName": "Why", "flex": 1, "minWidth": 190, **ui.WRAPPED},
]


def _flagged(users: pl.DataFrame | None) -> html.Section:
    title = "Quiet and silently churned users"
    if users is None:
        return ui.section(title, ui.notice("Users are not scored in this build (its user_status table is missing), "
                                           "so nobody can be called quiet yet."))
    if users.is_empty():
        return ui.section(title, ui.notice("Nobody at this site is quiet or silently churned right now."),
                          id=SITE_USERS)
    n_silent = users.filter(pl.col("status") == "silent_churn").height
    n_new = users.filter(pl.col("new")).height
    return ui.section(
        title,
        html.P(
            f"{count(users.height)} users whose use dropped without a support ticket: {count(n_silent)} stopped "
            f"(silently churned) and {count(users.height - n_silent)} faded (quiet). Longest silent first; "
            "sort or filter any column."
        ),
        html.P([f"{count(n_new)} new for you. ", dcc.Link("Work them in your review queue", href="/queue"), "."],
               id=SITE_NEW),
        dag.AgGrid(
            id=SITE_USERS,
            rowData=_grid_rows(users),
            columnDefs=COLUMNS,
            defaultColDef={"sortable": True, "filter": True, "floatingFilter": True, "resizable": True,
                           "wrapHeaderText": True, "autoHeaderHeight": True},
            dashGridOptions={"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 20,
                             "paginationPageSizeSelector": False, "ensureDomOrder": True,
                             "enableCellTextSelection": True},
            style={"height": None},
        ),
        html.Div(
            [
                dbc.Button("Download the outreach list (CSV)", id=SITE_DOWNLOAD_BUTTON, color="primary",
                           className="mt-2"),
                html.Span(id=SITE_DOWNLOAD_STATUS, className="ms-2 small", role="status"),
                dcc.Download(id=SITE_DOWNLOAD),
            ]
        ),
    )


def _tickets(categories: pl.DataFrame, tickets: pl.DataFrame) -> html.Section:
    title = f"Tickets in the last {RECENT_WEEKS} weeks"
    if categories.is_empty():
        chart = ui.notice(f"No tickets in the last {RECENT_WEEKS} weeks.")
    else:
        figure = ui.figure(
            [ui.trace("bar", x=categories["tickets"], y=ui.chart_text(categories["category"]), orientation="h",
                      marker={"color": ui.BLUE}, text=categories["tickets"], textposition="outside", cliponaxis=False)],
            x_title="tickets",
            xaxis=ui.count_axis(categories["tickets"].max()),
            yaxis={"autorange": "reversed"},
            height=70 + 32 * categories.height,
            showlegend=False,
        )
        chart = ui.chart(SITE_TICKETS, figure, "; ".join(
            f"{category}: {count(n)}" for category, n in categories.iter_rows()) + ".")
    listing = (
        ui.table(
            "The latest tickets (their text is never stored).",
            ["Filed", "Category", "Priority", "Status", "Channel", "User"],
            [[moment(row["created_at"]), row["category"] or "", row["priority"] or "", row["status"] or "",
              row["channel"] or "", row["user_id"] or "the site"] for row in tickets.iter_rows(named=True)],
            id=SITE_TICKET_LIST,
        )
        if tickets.height else None
    )
    return ui.section(title, chart, listing)


def _training(sessions: pl.DataFrame) -> html.Section:
    if sessions.is_empty():
        return ui.section("Training", ui.notice("No training sessions are recorded for this site."))
    return ui.section(
        "Training",
        ui.table(
            "Training sessions, newest first.",
            ["Day", "Kind", "Whole site", "Attended"],
            [[day(row["session_date"]), row["kind"], "yes" if row["is_site_session"] else "no",
              count(row["attendees"])] for row in sessions.iter_rows(named=True)],
            id=SITE_TRAINING,
            numeric=[3],
        ),
    )


def outreach_frame(profile: dict[str, Any], users: pl.DataFrame) -> pl.DataFrame:
    """The outreach list as the CSV has it: one row per quiet or silently churned user."""
    return users.select(
        pl.lit(profile["site_id"]).alias("site_id"),
        pl.lit(profile["name"]).alias("site_name"),
        "user_id",
        "role",
        "status",
        pl.col("drop_week").alias("since_week"),
        pl.col("last_active_at").dt.strftime("%Y-%m-%d %H:%M"),
        pl.col("last_ticket_at").dt.strftime("%Y-%m-%d %H:%M"),
        "trained",
        pl.col("feature_stopped_first").alias("stopped_first_train_on"),
        "reason",
    )


def outreach_filename(site_id: str, as_of: date) -> str:
    """A file name safe on every system, whatever characters the site id holds."""
    return f"outreach-{re.sub(r'[^A-Za-z0-9_-]+', '_', site_id)}-{as_of:%Y-%m-%d}.csv"


@callback(
    Output(SITE_DOWNLOAD, "data"),
    Output(SITE_DOWNLOAD_STATUS, "children"),
    Input(SITE_DOWNLOAD_BUTTON, "n_clicks"),
    State(SITE_KEY, "data"),
    prevent_initial_call=True,
)
def download_outreach(_n_clicks: int | None, site_id: str | None) -> tuple[Any, str]:
    """The CSV, read afresh: the site id comes from the page, whether it may be seen from the sign-in."""
    try:
        with ui.database() as con:
            sites = visible_sites(con)
            profile = site_profile(con, site_id, sites=sites) if site_id else None
            if profile is None:
                return no_update, "Site not found."
            info = ui.build_info(con)
            users = flagged_users(site_users(con, site_id, sites=sites))
    except duckdb.Error:
        return no_update, ui.UNREADABLE
    as_of = info.as_of if info else date.today()
    text = spreadsheet_safe_csv(outreach_frame(profile, users))
    ui.log_access("download", site_id, users.height, "outreach_csv")
    return dcc.send_string(text, outreach_filename(site_id, as_of), type="text/csv"), (
        f"Downloaded {count(users.height)} users."
    )
