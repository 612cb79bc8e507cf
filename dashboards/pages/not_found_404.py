"""Any address that is no page: say so, and offer the way back."""
from __future__ import annotations

import dash
from dash import dcc, html

from dashboards import ui

dash.register_page(__name__, path="/404", name="Not found", title="Adoption Radar: not found", nav=False)


def layout(**_url_args: str) -> html.Div:
    return html.Div(
        [
            html.H1("Page not found", className="h2 mt-3"),
            ui.notice(["There is no page at this address. ", dcc.Link("Go to the overview", href="/"), "."]),
        ]
    )
