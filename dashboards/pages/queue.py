"""`/queue`: today's work for a customer success manager. The new and due flags at their
sites, worst site first, the first QUEUE_LENGTH of them; pick users in the list, then mark
them contacted with an outcome code or snooze them, and they leave the list at once.

What is recorded is decided on the server: each picked flag must be in this build's
user_status at a site the person may see, and its site and status come from the build; the
browser only names the user and drop week. Executives and analysts see every site's queue,
read-only (the contract lets only a site's CSM act on its flags); without sign-in (loopback
only) the queue covers every site and actions are recorded as "local".
"""
from __future__ import annotations

import logging
from datetime import date
from typing import Any

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import duckdb
import polars as pl
from dash import Input, Output, State, callback, ctx, html, no_update

from dashboards import ui
from dashboards.access import current_viewer, viewer_name, visible_sites
from dashboards.review_store import review_store
from dashboards.wording import STATUS_LABELS, count, day
from metrics.readers.catalog import has_table
from metrics.readers.queue_views import flag_in_build, held_queue_flags
from metrics.readers.store import BuildInfo
from metrics.reviews.queue import (
    OUTCOME_LABELS,
    QUEUE_LENGTH,
    SNOOZES,
    current_actions,
    last_action,
    read_reviews,
    review_queue,
    snooze_until,
    with_review_state,
)
from metrics.reviews.store import Action

log = logging.getLogger(__name__)

dash.register_page(__name__, path="/queue", name="Queue", title="Adoption Radar: your review queue", order=2)

QUEUE_GRID = "queue-grid"
QUEUE_MORE = "queue-more"
QUEUE_OUTCOME = "queue-outcome"
QUEUE_CONTACTED = "queue-contacted"
QUEUE_SNOOZE = {"1 week": "queue-snooze-1-week", "2 weeks": "queue-snooze-2-weeks", "a month": "queue-snooze-a-month"}
QUEUE_UNDO = "queue-undo"
QUEUE_STATUS = "queue-status"

TITLE = "Your review queue"
LEAD = ("Users who went quiet or stopped without a ticket, at your sites, worst site first: new flags, and those "
        "whose snooze is over or who got worse since. Pick users, then mark them contacted or snooze them.")
READ_ONLY = "You see every site's queue read-only: only a site's customer success manager records reviews."


def may_act() -> bool:
    """Only a CSM records reviews on their own sites; without sign-in (loopback) the one person at
    the machine does."""
    viewer = current_viewer()
    return viewer is None or viewer.role == "csm"


def todays_queue(today: date) -> tuple[BuildInfo | None, pl.DataFrame | None]:
    """The build, and the flags that need the person asking today (None without user_status)."""
    with ui.database() as con:
        info = ui.build_info(con)
        if info is None or not has_table(con, "user_status"):
            return info, None
        flags = held_queue_flags(con, info, sites=visible_sites(con))
    reviewed = with_review_state(flags, read_reviews(review_store()), viewer_name(), today, info.as_of)
    return info, review_queue(reviewed)


@ui.guarded
def layout(**_other: str) -> html.Div:
    info, queue = todays_queue(date.today())
    if info is None:
        return ui.page(TITLE, info, ui.notice("This file has no finished build to show."))
    if queue is None:
        return ui.page(TITLE, info, ui.notice("Users are not scored in this build (its user_status table is "
                                              "missing), so there is nothing to review yet."))
    ui.log_access("queue_view", users=min(queue.height, QUEUE_LENGTH))
    return ui.page(
        TITLE,
        info,
        None if may_act() else ui.notice(READ_ONLY),
        _grid(queue),
        html.P(_more(queue), id=QUEUE_MORE, className="small"),
        _actions() if may_act() else None,
        lead=LEAD,
    )


def _rows(queue: pl.DataFrame) -> list[dict[str, Any]]:
    """The first QUEUE_LENGTH flags as grid rows, dates as ISO text."""
    return queue.head(QUEUE_LENGTH).select(
        "user_id",
        "site_name",
        "role",
        pl.col("status").replace_strict(STATUS_LABELS, default=pl.col("status")),
        pl.col("drop_week").dt.strftime("%Y-%m-%d"),
        pl.col("last_ticket_at").dt.strftime("%Y-%m-%d").fill_null("none"),
        pl.when(pl.col("new")).then(pl.lit("new"))
        .when(pl.col("review_state") == "snoozed").then(pl.lit("back from a snooze"))
        .otherwise(pl.lit("in your digest")).alias("review"),
        pl.col("feature_stopped_first").fill_null(""),
        "reason",
    ).to_dicts()


def _more(queue: pl.DataFrame) -> str:
    rest = queue.height - QUEUE_LENGTH
    if queue.is_empty():
        return "Nothing to review today: every flag at your sites is contacted or snoozed."
    return f"{count(rest)} more after these." if rest > 0 else f"{count(queue.height)} to review, all shown."


COLUMNS = [
    {"field": "user_id", "headerName": "User", "width": 90},
    {"field": "site_name", "headerName": "Site", "width": 120},
    {"field": "role", "headerName": "Role", "width": 105},
    {"field": "status", "headerName": "Status", "width": 135},
    {"field": "drop_week", "headerName": "Since (week of)", "width": 105, "cellDataType": "text"},
    {"field": "last_ticket_at", "headerName": "Last ticket", "width": 105, "cellDataType": "text"},
    {"field": "review", "headerName": "Review", "width": 95},
    {"field": "feature_stopped_first", "headerName": "Stopped first (train on)", "width": 105, **ui.WRAPPED},
    {"field": "reason", "headerName": "Why", "flex": 1, "minWidth": 200, **ui.WRAPPED},
]


def _grid(queue: pl.DataFrame) -> dag.AgGrid:
    return dag.AgGrid(
        id=QUEUE_GRID,
        rowData=_rows(queue),
        columnDefs=COLUMNS,
        defaultColDef={"resizable": True, "wrapHeaderText": True, "autoHeaderHeight": True},
        dashGridOptions={"domLayout": "autoHeight", "ensureDomOrder": True, "enableCellTextSelection": True,
                         "rowSelection": {"mode": "multiRow", "enableClickSelection": True}},
        selectedRows=[],
        style={"height": None},
    )


def _actions() -> html.Div:
    outcomes = [{"label": label, "value": code} for code, label in OUTCOME_LABELS.items()]
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col([dbc.Label("What came of the contact", html_for=QUEUE_OUTCOME),
                             dbc.Select(id=QUEUE_OUTCOME, options=outcomes, placeholder="Choose an outcome")], md=4),
                    dbc.Col(dbc.Button("Mark contacted", id=QUEUE_CONTACTED, color="primary"), md="auto",
                            className="align-self-end"),
                ],
                className="mb-2",
            ),
            html.Div(
                [html.Span("Snooze until, from today: ", className="me-2")]
                + [dbc.Button(choice, id=id, color="secondary", outline=True, className="me-2")
                   for choice, id in QUEUE_SNOOZE.items()]
                + [dbc.Button("Undo my last action", id=QUEUE_UNDO, color="link")],
                className="mb-2",
            ),
            html.P(id=QUEUE_STATUS, role="status", className="small"),
        ],
        role="group",
        **{"aria-label": "Review the users picked in the list"},
    )


@callback(
    Output(QUEUE_GRID, "rowData"),
    Output(QUEUE_GRID, "selectedRows"),
    Output(QUEUE_MORE, "children"),
    Output(QUEUE_STATUS, "children"),
    Input(QUEUE_CONTACTED, "n_clicks"),
    *[Input(id, "n_clicks") for id in QUEUE_SNOOZE.values()],
    Input(QUEUE_UNDO, "n_clicks"),
    State(QUEUE_GRID, "selectedRows"),
    State(QUEUE_OUTCOME, "value"),
    prevent_initial_call=True,
)
def act(*arguments: Any) -> tuple[Any, Any, Any, str]:
    """The button pressed decides the action; `review` does the rest."""
    *_clicks, picked, outcome = arguments
    choice = next((choice for choice, id in QUEUE_SNOOZE.items() if id == ctx.triggered_id), None)
    action = "undone" if ctx.triggered_id == QUEUE_UNDO else "snoozed" if choice else "contacted"
    return review(action, picked, outcome, choice)


def review(action: str, picked: list[dict[str, Any]] | None, outcome: str | None,
           snooze: str | None) -> tuple[Any, Any, Any, str]:
    """Record the action on the picked flags (or undo the person's last one), then the queue as it
    now stands: rows, no selection, the "more" line, and what was done."""
    today = date.today()
    try:
        message = _record(action, picked or [], outcome, snooze, today)
        if message is None:
            return no_update, no_update, no_update, "Nothing was recorded."
        _info, queue = todays_queue(today)
    except duckdb.Error:
        log.exception("the review queue could not read the data")
        return no_update, no_update, no_update, ui.UNREADABLE
    if queue is None:
        return no_update, no_update, no_update, message
    return _rows(queue), [], _more(queue), message


def _record(action: str, picked: list[dict[str, Any]], outcome: str | None, snooze: str | None,
            today: date) -> str | None:
    """Check, then record; the sentence saying what was done or why nothing was (None: refused
    without a word, for a request no page of ours sends)."""
    if not may_act():
        return READ_ONLY
    if action == "undone":
        return _undo()
    if not picked:
        return "Pick one or more users in the list first."
    if action == "contacted" and outcome not in OUTCOME_LABELS:
        return "Choose what came of the contact first."
    if action == "snoozed" and snooze not in SNOOZES:
        return None
    flags = _flags_in_build(picked)
    if flags is None:
        log.warning("refused a review by %s of flags not in their queue: %r", viewer_name(), picked)
        return None
    until = snooze_until(snooze, today) if action == "snoozed" else None
    store, person = review_store(), viewer_name()
    for user_id, drop_week, flag in flags:
        store.record(Action(user_id, drop_week, flag["site_id"], flag["status"], person, action,
                            outcome=outcome if action == "contacted" else None, snoozed_until=until))
        ui.log_access("review_action", flag["site_id"], 1, f"{action}:{outcome or until}")
    done = f"contacted ({OUTCOME_LABELS[outcome]})" if action == "contacted" else f"snoozed until {day(until)}"
    return f"{count(len(flags))} {'user' if len(flags) == 1 else 'users'} {done}."


def _flags_in_build(picked: list[dict[str, Any]]) -> list[tuple[str, date, dict[str, Any]]] | None:
    """Each picked (user_id, drop_week) as the build has it at a site the person may see; None
    when any is not, so that a request naming another CSM's flag changes nothing at all."""
    found = []
    with ui.database() as con:
        sites = visible_sites(con)
        for row in picked:
            try:
                user_id, drop_week = str(row["user_id"]), date.fromisoformat(str(row["drop_week"]))
            except (KeyError, TypeError, ValueError):
                return None
            flag = flag_in_build(con, user_id, drop_week, sites=sites)
            if flag is None:
                return None
            found.append((user_id, drop_week, flag))
    return found


def _undo() -> str:
    """Take back the person's latest standing action, if its site is still theirs."""
    store, person = review_store(), viewer_name()
    last = last_action(current_actions(store)[0], person)
    if last is None:
        return "Nothing to undo."
    with ui.database() as con:
        sites = visible_sites(con)
    if sites is not None and last["site_id"] not in sites:
        return "Your last action was on a site you no longer see; it stays."
    store.record(Action(last["user_id"], last["drop_week"], last["site_id"], last["status"], person, "undone",
                        undoes=last["action_id"]))
    ui.log_access("review_action", last["site_id"], 1, f"undone:{last['action_id']}")
    return f"Took back: {last['action']} {last['user_id']}."
