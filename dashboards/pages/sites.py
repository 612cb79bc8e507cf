"""`/sites`: for customer success managers. Every visible site, worst first, with what
pulls its score down. The filters live in the query string (`/sites?risk=high&owner=...`),
so a filtered list is a link that can be shared or bookmarked.

The list comes PAGE_SIZE sites at a time (`&page=2`): an HTML table keeps its caption,
headers and links for screen readers and the keyboard, but each cell is a component, and
300 sites of them take longer to build than the page may take."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import duckdb
import polars as pl
from dash import Input, Output, callback, clientside_callback, dcc, html
from dash.development.base_component import Component

from dashboards import ui
from dashboards.access import viewer_name, visible_sites
from dashboards.review_store import review_store
from dashboards.wording import count, share
from metrics.readers.catalog import has_table
from metrics.readers.queue_views import held_queue_flags
from metrics.readers.site_views import RISKS, filter_choices, site_list, site_ranking
from metrics.readers.store import BuildInfo
from metrics.reviews.queue import new_per_site, read_reviews, with_review_state

dash.register_page(__name__, path="/sites", name="Sites", title="Adoption Radar: sites by risk", order=1)

SITES_OWNER = "sites-owner"
SITES_REGION = "sites-region"
SITES_RISK = "sites-risk"
SITES_RANKING = "sites-ranking"
SITES_TABLE = "sites-table"
SITES_PAGER = "sites-pager"
SITES_NEW = "sites-new"

PAGE_SIZE = 50

TITLE = "Sites by risk"
LEAD = "Worst first: high risk before medium and low, then the lowest health score. Open a site to see who went quiet."


def _page_number(value: str | list[str] | None) -> int:
    text = ui.filter_value(value)
    return int(text) if text and text.isdigit() and int(text) > 0 else 1


@ui.guarded
def layout(owner: str | list[str] | None = None, region: str | list[str] | None = None,
           risk: str | list[str] | None = None, page: str | list[str] | None = None, **_other: str) -> html.Div:
    with ui.database() as con:
        sites = visible_sites(con)
        info = ui.build_info(con)
        if not has_table(con, "site_health"):
            return ui.page(TITLE, info, ui.notice(
                "Risk scores are not in this build yet (its site_health table is missing), so your sites are "
                "listed by name instead of ranked."), _by_name(site_list(con, sites=sites)))
        choices = {**filter_choices(con, sites=sites), "risk": RISKS}
        # A value from a link that is not among the viewer's choices filters nothing.
        chosen = {key: value if value in choices[key] else None
                  for key, value in {"owner": ui.filter_value(owner), "region": ui.filter_value(region), "risk": ui.filter_value(risk)}.items()}
        ranking = site_ranking(con, sites=sites, **chosen)
        new = _new_for_you(con, sites, info)
    if ranking.is_empty() and not any(chosen.values()):
        return ui.page(TITLE, info, ui.notice("No site you can see has a risk score in this build."))
    return ui.page(
        TITLE,
        info,
        html.P([f"{count(sum(new.values()))} flags new for you. ", dcc.Link("Open your review queue", href="/queue"),
                "."], id=SITES_NEW),
        _filters(choices, chosen),
        html.Div(_ranking(ranking, chosen, _page_number(page), new), id=SITES_RANKING, **{"aria-live": "polite"}),
        lead=LEAD,
    )


def _new_for_you(con: duckdb.DuckDBPyConnection, sites: list[str] | None, info: BuildInfo | None) -> dict[str, int]:
    """Per visible site, how many flags are new for the person asking (none without a build or
    user_status)."""
    if info is None or not has_table(con, "user_status"):
        return {}
    reviewed = with_review_state(held_queue_flags(con, info, sites=sites), read_reviews(review_store()), viewer_name(),
                                 date.today(), info.as_of)
    return new_per_site(reviewed)


def _select(id: str, label: str, options: list[str], value: str | None) -> dbc.Col:
    return ui.filter_select(id, label, [(option, option) for option in options], value)


def _filters(choices: dict[str, list[str]], chosen: dict[str, str | None]) -> html.Div:
    return html.Div(
        dbc.Row(
            [
                _select(SITES_OWNER, "Owner (customer success manager)", choices["owner"], chosen["owner"]),
                _select(SITES_REGION, "Region", choices["region"], chosen["region"]),
                _select(SITES_RISK, "Risk", choices["risk"], chosen["risk"]),
            ]
        ),
        role="search",
        **{"aria-label": "Filter the sites"},
    )


def _ranking(ranking: pl.DataFrame, chosen: dict[str, str | None], page: int, new: dict[str, int]) -> list:
    if ranking.is_empty():
        return [ui.notice("No site matches these filters.")]
    pages = -(-ranking.height // PAGE_SIZE)
    page = min(page, pages)
    first = (page - 1) * PAGE_SIZE
    rows = [
        [
            str(rank),
            dcc.Link(row["name"] or row["site_id"], href=ui.site_href(row["site_id"])),
            ui.risk_badge(row["risk"]),
            "–" if row["health_score"] is None else f"{row['health_score']:.0f}",
            f"{count(row['active_users'])} of {count(row['licensed_seats'])} ({share(row['adoption_rate'])})",
            count(row["quiet_users"]),
            count(row["silent_churn_users"]),
            count(row["never_activated_users"]),
            count(new.get(row["site_id"], 0)),
            row["drivers"] or "",
            row["region"] or "",
        ]
        for rank, row in enumerate(ranking.slice(first, PAGE_SIZE).iter_rows(named=True), start=first + 1)
    ]
    shown = (f"{count(ranking.height)} sites" if pages == 1 else
             f"Sites {count(first + 1)}–{count(first + len(rows))} of {count(ranking.height)}")
    return [
        html.P(f"{shown}, worst first.", className="small"),
        ui.table(
            "Sites ranked by risk. Health score: higher is healthier. Active users are those active in the latest "
            "week, against the seats licensed.",
            ["#", "Site", "Risk", "Health score", "Active users / seats", "Quiet", "Silently churned",
             "Never activated", "New for you", "What pulls it down", "Region"],
            rows,
            id=SITES_TABLE,
            numeric=[0, 3, 5, 6, 7, 8],
        ),
        _pager(chosen, page, pages),
    ]


def _pager(chosen: dict[str, str | None], page: int, pages: int) -> html.Nav | None:
    """Links to the previous and next pages, the filters kept in each address."""
    if pages == 1:
        return None

    def link(label: str, to: int) -> dcc.Link:
        query = urlencode({**{k: v for k, v in chosen.items() if v}, "page": to})
        return dcc.Link(label, href=f"/sites?{query}", className="btn btn-outline-primary btn-sm me-2")

    return html.Nav(
        [
            link("‹ Previous", page - 1) if page > 1 else None,
            html.Span(f"Page {page} of {pages}", className="me-2"),
            link("Next ›", page + 1) if page < pages else None,
        ],
        id=SITES_PAGER,
        className="mb-4",
        **{"aria-label": "Pages of sites"},
    )


def _by_name(listing: pl.DataFrame) -> Component:
    if listing.is_empty():
        return ui.notice("There are no sites for you in this file.")
    return html.Ul(
        [html.Li(dcc.Link(name, href=ui.site_href(site_id)))
         for site_id, name in listing.select("site_id", "name").iter_rows()],
        id=SITES_TABLE,
        className="site-list",
    )


@callback(
    Output(SITES_RANKING, "children"),
    Input(SITES_OWNER, "value"),
    Input(SITES_REGION, "value"),
    Input(SITES_RISK, "value"),
    prevent_initial_call=True,
)
@ui.guarded
def filter_sites(owner: str | None, region: str | None, risk: str | None) -> list:
    """Re-rank under new filters, from the first page. The site list comes from the sign-in,
    never from the browser."""
    chosen = {"owner": ui.filter_value(owner), "region": ui.filter_value(region), "risk": ui.filter_value(risk)}
    with ui.database() as con:
        sites = visible_sites(con)
        ranking = site_ranking(con, sites=sites, **chosen)
        new = _new_for_you(con, sites, ui.build_info(con))
    return _ranking(ranking, chosen, 1, new)


# The filters go into the address bar without a reload, so that the link can be shared;
# replaceState, not pushState: the page router does not re-render, and focus stays put.
clientside_callback(
    """
    function(owner, region, risk) {
        const query = new URLSearchParams();
        for (const [key, value] of [["owner", owner], ["region", region], ["risk", risk]]) {
            if (value && value !== "all") { query.set(key, value); }
        }
        const search = query.toString();
        window.history.replaceState(window.history.state, "", window.location.pathname + (search ? "?" + search : ""));
    }
    """,
    Input(SITES_OWNER, "value"),
    Input(SITES_REGION, "value"),
    Input(SITES_RISK, "value"),
    prevent_initial_call=True,
)
