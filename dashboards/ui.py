"""Pieces every page shares: the data file, the build line, notices, tables, figures.

Not a page (Dash's page loader skips modules that do not register one). Text from the
data always goes in as a component's children, which Dash renders as text, never as
HTML or Markdown.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import dash
import dash_bootstrap_components as dbc
import duckdb
import polars as pl
from dash import dcc, html
from dash.development.base_component import Component
from flask import current_app

from dashboards.access import viewer_name
from dashboards.review_store import keep_store_open, review_store
from dashboards.wording import day, moment
from metrics.readers.held import held, held_reading
from metrics.readers.store import BuildInfo, latest_build, reading

log = logging.getLogger(__name__)

# Okabe-Ito: told apart by people with any common colour-vision deficiency.
BLUE, ORANGE, SKY, GREEN, VERMILLION, PURPLE, GREY = (
    "#0072B2", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#CC79A7", "#7F7F7F"
)
RISK_COLOURS = {"high": "danger", "medium": "warning", "low": "success"}
# A grid column of sentences: wrapped, the row as tall as its text.
WRAPPED = {"wrapText": True, "autoHeight": True, "cellStyle": {"lineHeight": "1.45", "paddingTop": "6px",
                                                               "paddingBottom": "6px", "wordBreak": "break-word"}}
UNREADABLE = (
    "The data file could not be read just now. If a build is replacing it, reload the page in a minute; "
    "if this persists, ask whoever runs the server to check its log."
)
OUTDATED = (
    "This data file lacks a table or column this page needs: it was written by an older or partial build. "
    "Rebuild it with the adoption build command."
)


_HOLD_FILE = "ADOPTION_HOLD_FILE"  # the app's own setting: set and read here


def hold_open(app: dash.Dash) -> None:
    """Serve every request through connections the process holds open (a long-running server's
    policy: `adoption serve`): to the data file, looked at on every request, so a new build
    renamed over it is read at once (while held, the file cannot be opened for writing); and to
    the reviews store, for the access log every view writes."""
    app.server.config[_HOLD_FILE] = True
    keep_store_open(app)


@contextmanager
def database() -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the served file as it is now, for one request only: a cursor of
    the process's held connection (metrics.readers.held) when the app holds the file, since
    opening the file costs more than most pages' queries; else a connection of its own."""
    path = current_app.config["ADOPTION_DB"]
    with (held_reading(path) if current_app.config.get(_HOLD_FILE) else reading(path)) as con:
        yield con


def guarded(build: Callable[..., Component]) -> Callable[..., Component]:
    """A layout that cannot show a traceback: a file or query error becomes a plain notice
    (the details go to the server's log)."""

    @functools.wraps(build)
    def run(*args: Any, **kwargs: Any) -> Component:
        try:
            return build(*args, **kwargs)
        except (duckdb.CatalogException, duckdb.BinderException):
            log.exception("page %s needs a table or column the file lacks", build.__module__)
            return notice(OUTDATED, tone="danger")
        except duckdb.Error:
            log.exception("page %s failed to read the data", build.__module__)
            return notice(UNREADABLE, tone="danger")

    return run


def log_access(kind: str, site_id: str | None = None, users: int | None = None, detail: str | None = None) -> None:
    """Write what the person asking saw or did to the access log, before it is shown: a security
    review asks who looked at which site and list (`adoption audit` prints it)."""
    review_store().log_access(viewer_name(), kind, site_id, users, detail)


def build_info(con: duckdb.DuckDBPyConnection) -> BuildInfo | None:
    """The latest build, or None for a file that has none recorded (read once per build file)."""

    def read() -> BuildInfo | None:
        try:
            return latest_build(con)
        except ValueError:
            return None

    return held(con, ("latest_build",), read)


def stamp(info: BuildInfo | None) -> html.P:
    """The line on every page that says how fresh the data is."""
    text = (
        "No finished build is recorded in this file."
        if info is None
        else f"Data as of the week of {day(info.as_of)}, built at {moment(info.built_at)}."
    )
    return html.P(text, className="text-body-secondary small mb-3 build-stamp")


def page(title: str, info: BuildInfo | None, *children: Component | None, lead: str | None = None) -> html.Div:
    """A page: its heading, the build line, an optional lead paragraph, then its sections."""
    header = [html.H1(title, className="h2 mt-3 mb-1"), stamp(info)]
    if lead:
        header.append(html.P(lead, className="lead fs-6"))
    return html.Div([*header, *[child for child in children if child is not None]])


ALL = "all"  # a filter's option that filters nothing (an empty value would show as a blank box)


def filter_value(value: str | list[str] | None) -> str | None:
    """One filter value from the query string: a repeated key arrives as a list; empty or "all"
    means no filter."""
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value in (None, "", ALL) else value


def filter_select(id: str, label: str, choices: Sequence[tuple[str, str]], value: str | None, *,
                  name: str | None = None, md: int = 4) -> dbc.Col:
    """A labelled filter: "All", then each (value, label) choice; `name` makes it part of a GET form."""
    options = [{"label": "All", "value": ALL}] + [{"label": text, "value": option} for option, text in choices]
    return dbc.Col(
        [dbc.Label(label, html_for=id),
         dbc.Select(id=id, options=options, value=value or ALL, **({"name": name} if name else {}))],
        md=md,
        className="mb-2",
    )


def notice(message: str | Sequence[Component | str], tone: str = "secondary") -> html.Div:
    """An empty or error state in plain words; screen readers announce it."""
    return html.Div(message, className=f"alert alert-{tone} notice", role="alert" if tone == "danger" else "status")


def section(title: str, *children: Component | None, id: str | None = None) -> html.Section:
    """A titled part of a page; the heading names the region for screen readers."""
    heading = html.H2(title, className="h4 mt-4")
    named = {}
    if id:
        heading.id = f"{id}-heading"
        named = {"id": id, "aria-labelledby": heading.id}
    return html.Section([heading, *[child for child in children if child is not None]], **named)


def site_href(site_id: str) -> str:
    """The address of a site's page; any character an id may hold survives the trip."""
    return "/sites/" + quote(site_id, safe="")


def risk_badge(risk: str | None) -> dbc.Badge:
    """Risk as a word as well as a colour."""
    if risk is None:
        return dbc.Badge("not scored", color="light", text_color="dark", className="border")
    colour = RISK_COLOURS.get(risk, "secondary")
    return dbc.Badge(f"{risk} risk", color=colour, text_color="dark" if colour == "warning" else None,
                     className="text-nowrap")


def table(
    caption: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Component | str]],
    *,
    id: str | None = None,
    numeric: Sequence[int] = (),
) -> html.Div:
    """A plain HTML table with a caption (read by screen readers); `numeric` columns align
    right. Plain html components, not dbc.Table: a page may hold hundreds of cells, and
    each component costs time to build."""

    def cell(tag: type[Component], value: Component | str, column: int) -> Component:
        return tag(value, className="text-end") if column in numeric else tag(value)

    return html.Div(
        html.Table(
            [
                html.Caption(caption),
                html.Thead(html.Tr([cell(html.Th, name, i) for i, name in enumerate(header)])),
                html.Tbody([html.Tr([cell(html.Td, value, i) for i, value in enumerate(row)]) for row in rows]),
            ],
            **({"id": id} if id else {}),
            className="table table-sm table-striped table-hover caption-top",
        ),
        className="table-responsive",
    )


GRID = "#E5E9F0"
AXIS = {"gridcolor": GRID, "zerolinecolor": GRID, "linecolor": "#B0B8C4", "automargin": True}


def chart_text(values: pl.Series) -> pl.Series:
    """Text from the data, for a chart. Plotly draws a few HTML tags in labels, legends and
    hover text (<b>, <a href>, <br>); escaped, "<b>" is shown as it is written."""
    return (
        values.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def count_axis(largest: float) -> dict[str, Any]:
    """An axis of counts: whole numbers only, from zero."""
    return {"tickformat": ",d", "rangemode": "tozero", **({"dtick": 1} if largest <= 8 else {})}


def _plain(value: Any) -> Any:
    """Polars columns as lists, inside traces too (error bars, markers)."""
    if isinstance(value, pl.Series):
        return value.to_list()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def trace(kind: str, **props: Any) -> dict[str, Any]:
    """One Plotly trace (`scatter`, `bar`), its columns straight from polars."""
    return {"type": kind, **{key: _plain(value) for key, value in props.items()}}


def figure(
    traces: list[dict[str, Any]],
    *,
    title: str = "",
    x_title: str | None = None,
    y_title: str | None = None,
    xaxis: dict[str, Any] | None = None,
    yaxis: dict[str, Any] | None = None,
    **layout: Any,
) -> dict[str, Any]:
    """A chart in one look (white, the page's font, legend on top) as the plain figure dict
    dcc.Graph takes. Not plotly.graph_objects: its validation costs more than the queries."""
    return {
        "data": traces,
        "layout": {
            "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 16}},
            "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13,
                     "color": "#212529"},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "margin": {"l": 60, "r": 20, "t": 70 if title else 20, "b": 50},
            "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "xanchor": "left"},
            "hoverlabel": {"namelength": -1},
            "height": 360,
            "xaxis": {**AXIS, "title": {"text": x_title}, **(xaxis or {})},
            "yaxis": {**AXIS, "title": {"text": y_title}, **(yaxis or {})},
            **layout,
        },
    }


def chart(id: str, figure: dict[str, Any], summary: str) -> html.Figure:
    """A chart with a caption saying in words what it shows, for those who cannot see it."""
    return html.Figure(
        [
            dcc.Graph(id=id, figure=figure, config={"displaylogo": False, "responsive": True}),
            html.Figcaption(summary, className="small text-body-secondary"),
        ],
        className="mb-4",
    )
