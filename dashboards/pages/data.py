"""`/data`: for analysts and admins. Which builds made this file, which input rows were
rejected and why, how often past flags were right on this data (`flag_backtest`), and how
to open the same file from a notebook, with every table and column explained by the
comments the build wrote into it."""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import duckdb
import polars as pl
from dash import html
from flask import current_app

from dashboards import ui
from dashboards.access import may_see_server_paths, visible_sites
from dashboards.wording import count, day, moment, share
from metrics.readers.backtest_views import HORIZON_WEEKS, MIN_HISTORY_WEEKS, backtest_rows, pooled
from metrics.readers.build_views import quarantine_by_reason, quarantined_rows, recent_builds
from metrics.readers.catalog import column_comments, has_table, table_comments
from metrics.readers.held import held, sites_key

dash.register_page(__name__, path="/data", name="Data", title="Adoption Radar: the data", order=4)

DATA_BUILDS = "data-builds"
DATA_QUARANTINE_SUMMARY = "data-quarantine-summary"
DATA_QUARANTINE_ROWS = "data-quarantine-rows"
DATA_NOTEBOOK = "data-notebook"
DATA_TABLES = "data-tables"
DATA_BACKTEST = "data-backtest"

ROWS_SHOWN = 1000
METHOD_LABELS = {"ours": "ours (quiet or silently churned)", "30_day_rule": "30-day inactivity rule"}
METHOD_LOOKS = {"ours": (ui.BLUE, "solid"), "30_day_rule": (ui.ORANGE, "dash")}
BAR_WIDTH_MS = 1.6 * 7 * 24 * 3600 * 1000  # a date axis counts in milliseconds: two bars fill most of 4 weeks


class _DataReads(NamedTuple):  # a NamedTuple: Dash loads pages where a dataclass cannot find its module
    """What the page reads from the build for one site list."""

    builds: pl.DataFrame
    reasons: pl.DataFrame
    rejected: pl.DataFrame
    backtest: pl.DataFrame | None
    tables: pl.DataFrame
    columns: pl.DataFrame


def _read_data(con: duckdb.DuckDBPyConnection, sites: list[str] | None) -> _DataReads:
    return _DataReads(
        builds=recent_builds(con),
        reasons=quarantine_by_reason(con, sites=sites),
        rejected=quarantined_rows(con, sites=sites, limit=ROWS_SHOWN),
        backtest=backtest_rows(con) if has_table(con, "flag_backtest") else None,
        tables=table_comments(con),
        columns=column_comments(con),
    )


@ui.guarded
def layout(**_url_args: str) -> html.Div:
    with ui.database() as con:
        sites = visible_sites(con)
        info = ui.build_info(con)
        scope = sites_key(sites)
        builds, reasons, rejected, backtest, tables, columns = held(con, ("data_page", scope),
                                                                    lambda: _read_data(con, sites))
    return ui.page(
        "The data behind these pages",
        info,
        _builds(builds),
        _quarantine(reasons, rejected),
        _backtest(backtest),
        _notebook(tables, columns),
    )


def _builds(builds: pl.DataFrame) -> html.Section:
    if builds.is_empty():
        return ui.section("Builds", ui.notice("No finished build is recorded in this file."))
    rows = [
        [moment(row["finished_at"]), day(row["as_of"]), f"{count(row['seconds'])} s", count(row["n_input_files"]),
         count(row["rows_loaded"]), count(row["duplicate_events"]), count(row["rows_quarantined"]), row["status"]]
        for row in builds.iter_rows(named=True)
    ]
    return ui.section(
        "Builds",
        ui.table("The latest builds of this file, newest first. Each replaced the file only once it had succeeded.",
                 ["Finished", "As of the week of", "Took", "Input files", "Rows loaded", "Repeated events counted once",
                  "Rows quarantined", "Status"],
                 rows, id=DATA_BUILDS, numeric=[2, 3, 4, 5, 6]),
    )


def _quarantine(reasons: pl.DataFrame, rejected: pl.DataFrame) -> html.Section:
    paths = may_see_server_paths()
    title = "Rows the build could not use"
    total = reasons["n_rows"].sum()
    if total == 0:
        return ui.section(title, ui.notice("No input row was quarantined: every row was usable."))
    shown = "" if rejected.height == total else f" The first {count(rejected.height)} are listed."
    return ui.section(
        title,
        html.P(f"{count(total)} input rows were set aside, each with its reason, instead of being dropped "
               f"silently.{shown} The values of a rejected row are kept as JSON, without free text."),
        ui.table("Quarantined rows by file and reason (values in a reason replaced by …).",
                 ["File", "Reason", "Rows"],
                 [[file, reason, count(n)] for file, reason, n in reasons.iter_rows()],
                 id=DATA_QUARANTINE_SUMMARY, numeric=[2]),
        dag.AgGrid(
            id=DATA_QUARANTINE_ROWS,
            rowData=rejected.select("file", "row_number", "reason", "raw", *(["source_file"] if paths else [])).to_dicts(),
            columnDefs=[
                {"field": "file", "headerName": "File", "minWidth": 140},
                {"field": "row_number", "headerName": "Row", "filter": "agNumberColumnFilter", "minWidth": 90},
                {"field": "reason", "headerName": "Reason", "flex": 1, "minWidth": 260, **ui.WRAPPED},
                {"field": "raw", "headerName": "Values", "flex": 2, "minWidth": 320, **ui.WRAPPED},
                *([{"field": "source_file", "headerName": "Path", "hide": True}] if paths else []),
            ],
            defaultColDef={"sortable": True, "filter": True, "resizable": True},
            dashGridOptions={"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 10,
                             "paginationPageSizeSelector": False, "ensureDomOrder": True,
                             "enableCellTextSelection": True},
            style={"height": None},
        ),
    )


def _backtest(rows: pl.DataFrame | None) -> html.Section:
    title = "How past flags held up"
    if rows is None:
        return ui.section(title, ui.notice("Past flags are not checked in this build: its flag_backtest table is "
                                           "missing. A new build adds it."))
    if rows.is_empty():
        return ui.section(title, ui.notice(
            f"This history is too short to check past flags yet: a check needs a past week with {MIN_HISTORY_WEEKS} "
            f"weeks of data before it and {HORIZON_WEEKS} weeks of known use after it."))
    weeks = rows["cut_week"].unique()
    totals = pooled(rows)
    if totals["new_flags"].sum() == 0:
        return ui.section(title, ui.notice(
            f"No user was newly flagged at the {count(weeks.len())} past weeks that can be checked "
            f"({day(weeks.min())} to {day(weeks.max())}), so there is nothing to compare yet."))
    horizon = rows["horizon_weeks"][0]
    return ui.section(
        title,
        html.P(f"Of the users newly flagged at each past week, the share who used the product again within {horizon} "
               "weeks: lower is better."),
        ui.chart(DATA_BACKTEST, _backtest_figure(rows, horizon), _backtest_summary(totals, weeks, horizon)),
        html.P(_recall_words(totals), className="small"),
    )


def _backtest_figure(rows: pl.DataFrame, horizon: int) -> dict:
    """Came-back share of the new flags (lines, top) over their number (bars, bottom), per method."""
    traces, bars = [], []
    for method, (colour, dash_style) in METHOD_LOOKS.items():
        mine = rows.filter(pl.col("method") == method, pl.col("new_flags").is_not_null())
        traces.append(ui.trace(
            "scatter", x=mine["cut_week"], y=mine["new_came_back_share"], name=METHOD_LABELS[method],
            legendgroup=method, mode="lines+markers", line={"color": colour, "dash": dash_style, "width": 3},
            marker={"color": colour, "size": 7}, customdata=mine.select("new_came_back", "new_flags").rows(),
            hovertemplate="%{x|%d %b %Y}: %{customdata[0]} of %{customdata[1]} new flags came back (%{y:.0%})"
                          "<extra>%{fullData.name}</extra>"))
        bars.append(ui.trace(
            "bar", x=mine["cut_week"], y=mine["new_flags"], name=METHOD_LABELS[method], legendgroup=method,
            showlegend=False, yaxis="y2", marker={"color": colour}, width=BAR_WIDTH_MS,
            hovertemplate="%{x|%d %b %Y}: %{y} new flags<extra>%{fullData.name}</extra>"))
    largest = float(rows["new_flags"].max() or 0)
    return ui.figure(
        traces + bars,
        title=f"New flags that came back within {horizon} weeks",
        y_title="came back",
        xaxis={"anchor": "y2"},
        yaxis={"tickformat": ".0%", "range": [0, 1.02], "domain": [0.34, 1]},
        yaxis2={**ui.AXIS, **_few_ticks(largest), "domain": [0, 0.24], "anchor": "x", "title": {"text": "new flags"}},
        barmode="group",
        height=460,
    )


def _few_ticks(largest: float) -> dict:
    """A count axis for a short panel: three or four whole-number ticks, however small the counts."""
    return {**ui.count_axis(largest), **({"dtick": max(1, math.ceil(largest / 3))} if largest <= 8 else {"nticks": 4})}


def _backtest_summary(totals: pl.DataFrame, weeks: pl.Series, horizon: int) -> str:
    parts = [
        f"{METHOD_LABELS[row['method']]}: {count(row['new_flags'])} new flags, {count(row['new_came_back'])} of them "
        f"({share(row['new_came_back'] / row['new_flags'] if row['new_flags'] else None)}) back within {horizon} weeks"
        for row in totals.iter_rows(named=True)
    ]
    return (f"{count(weeks.len())} past weeks checked, {day(weeks.min())} to {day(weeks.max())}, each scored with "
            f"only what was known then. After the first week: " + "; ".join(parts) + ".")


def _recall_words(totals: pl.DataFrame) -> str:
    """The other side of the bet: a method that flags only sure cases misses the users who were gone."""
    recall = {row["method"]: row["mean_gone_recall"] for row in totals.iter_rows(named=True)}
    if all(value is None for value in recall.values()):
        return "No user who had stopped for good was seen at these weeks, so what each method missed is not known."
    return ("Of the users who had stopped for a month or more and did not come back, ours flagged "
            f"{share(recall.get('ours'))} and the 30-day rule {share(recall.get('30_day_rule'))} "
            "(the average over these weeks).")


def _notebook(tables: pl.DataFrame, columns: pl.DataFrame) -> html.Section:
    path = current_app.config["ADOPTION_DB"]
    path = path if may_see_server_paths() else Path(path).name  # the server's folders are not a CSM's business
    code = (
        "import duckdb\n\n"
        f"con = duckdb.connect({path!r}, read_only=True)\n"
        "con.sql(\"select * from user_status where status in ('quiet', 'silent_churn')\").pl()\n"
        "# every table and column, explained:\n"
        "con.sql(\"select table_name, column_name, comment from duckdb_columns() where schema_name = 'main'\")"
    )
    items = [
        dbc.AccordionItem(
            [
                html.P(comment or ""),
                ui.table(f"Columns of {table}.", ["Column", "Type", "Meaning"],
                         [[column, data_type, text or ""] for _, column, data_type, text in
                          columns.filter(pl.col("table_name") == table).iter_rows()]),
            ],
            title=table,
        )
        for table, comment in tables.iter_rows()
    ]
    return ui.section(
        "Open this file from a notebook",
        html.P("Open it read-only: the build replaces the file by renaming a new one over it, so an open notebook "
               "keeps reading the build it opened, and a new connection sees the latest."),
        html.Pre(html.Code(code), className="bg-body-tertiary p-3 border rounded", id=DATA_NOTEBOOK),
        html.P("The tables and what each column means (the same text is stored as COMMENTs in the file):"),
        dbc.Accordion(items, start_collapsed=True, always_open=True, id=DATA_TABLES),
    )
