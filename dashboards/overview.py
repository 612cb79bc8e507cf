"""`/`: adoption across all sites over time, for executives."""
from __future__ import annotations

import dash
import plotly.express as px
from dash import dcc, html
from flask import current_app

from metrics.portfolio import weekly_activity
from metrics.store import latest_build, reading

dash.register_page(__name__, path="/", name="Overview", title="Adoption Radar: overview")

OVERVIEW_TREND = "overview-trend"
OVERVIEW_BUILD = "overview-build"


def layout(**_url_args: str) -> html.Div:
    with reading(current_app.config["ADOPTION_DB"]) as con:
        info = latest_build(con)
        weeks = weekly_activity(con)
    figure = px.line(
        weeks,
        x="week",
        y=["users", "active_users"],
        labels={"value": "users", "week": "week (Monday)", "variable": ""},
        title="Enrolled and weekly active users, all sites",
    )
    return html.Div(
        [
            html.P(
                f"Data as of the week of {info.as_of:%d %b %Y}, built at {info.built_at:%d %b %Y %H:%M} UTC.",
                id=OVERVIEW_BUILD,
            ),
            dcc.Graph(id=OVERVIEW_TREND, figure=figure),
        ]
    )
