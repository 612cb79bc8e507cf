"""`/data`: for analysts and admins. Which builds made this file, which input rows were
rejected and why, and how to open the same file from a notebook, with every table and
column explained by the comments the build wrote into it."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import polars as pl
from dash import html
from flask import current_app

from dashboards import ui
from dashboards.access import visible_sites
from dashboards.wording import count, day, moment
from metrics.build_views import quarantine_by_reason, quarantined_rows, recent_builds
from metrics.catalog import column_comments, table_comments

dash.register_page(__name__, path="/data", name="Data", title="Adoption Radar: the data", order=3)

DATA_BUILDS = "data-builds"
DATA_QUARANTINE_SUMMARY = "data-quarantine-summary"
DATA_QUARANTINE_ROWS = "data-quarantine-rows"
DATA_NOTEBOOK = "data-notebook"
DATA_TABLES = "data-tables"

ROWS_SHOWN = 1000


@ui.guarded
def layout(**_url_args: str) -> html.Div:
    with ui.database() as con:
        sites = visible_sites(con)
        info = ui.build_info(con)
        builds = recent_builds(con)
        reasons = quarantine_by_reason(con, sites=sites)
        rejected = quarantined_rows(con, sites=sites, limit=ROWS_SHOWN)
        tables = table_comments(con)
        columns = column_comments(con)
    return ui.page(
        "The data behind these pages",
        info,
        _builds(builds),
        _quarantine(reasons, rejected),
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
            rowData=rejected.select("file", "row_number", "reason", "raw", "source_file").to_dicts(),
            columnDefs=[
                {"field": "file", "headerName": "File", "minWidth": 140},
                {"field": "row_number", "headerName": "Row", "filter": "agNumberColumnFilter", "minWidth": 90},
                {"field": "reason", "headerName": "Reason", "flex": 1, "minWidth": 260, **ui.WRAPPED},
                {"field": "raw", "headerName": "Values", "flex": 2, "minWidth": 320, **ui.WRAPPED},
                {"field": "source_file", "headerName": "Path", "hide": True},
            ],
            defaultColDef={"sortable": True, "filter": True, "resizable": True},
            dashGridOptions={"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 10,
                             "paginationPageSizeSelector": False, "ensureDomOrder": True,
                             "enableCellTextSelection": True},
            style={"height": None},
        ),
    )


def _notebook(tables: pl.DataFrame, columns: pl.DataFrame) -> html.Section:
    path = current_app.config["ADOPTION_DB"]
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
