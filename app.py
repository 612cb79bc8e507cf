"""Adoption Radar: the Dash app shell.

`python app.py` is the embedded default: build the demo into data/ when it is not there,
then serve it; `python app.py build ...` (any arguments) is the command line (cli.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

import typer

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_INPUT = DATA_DIR / "demo"
DEMO_DB = DATA_DIR / "adoption.duckdb"


def create_app(db_path: Path, reviews_path: Path | None = None):
    """The Dash shell: pages from dashboards/pages/, navigation from the page registry, no data.

    Bootstrap's stylesheet is served from dashboards/assets, not a CDN: the app works
    offline, and a page showing customer data makes no request to a third party. Pages
    build their layouts per request, so a callback's components exist only on its page
    (hence suppress_callback_exceptions; a test checks every callback against its page).
    """
    import dash
    import dash_bootstrap_components as dbc
    from dash import html

    from dashboards.headers import add_security_headers
    from dashboards.review_store import use_store
    from metrics.reviews.store import default_path

    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="dashboards/pages",
        assets_folder="dashboards/assets",
        title="Adoption Radar",
        suppress_callback_exceptions=True,
    )
    app.server.config["ADOPTION_DB"] = str(db_path)
    use_store(app, reviews_path or default_path(db_path))
    add_security_headers(app)
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"],
                                active="exact" if page["path"] == "/" else "partial"))
        for page in dash.page_registry.values()
        if page.get("nav", True)
    ]
    navbar = dbc.Navbar(
        dbc.Container([dbc.NavbarBrand("Adoption Radar", href="/"), dbc.Nav(links, navbar=True)], fluid=True),
        color="dark",
        dark=True,
        tag="div",
        className="mb-2",
    )
    app.layout = html.Div(
        [
            html.A("Skip to the page content", href="#content", className="visually-hidden-focusable"),
            html.Header(html.Nav(navbar, **{"aria-label": "Pages"})),
            html.Main(dbc.Container(dash.page_container, fluid="xl"), id="content", tabIndex="-1"),
        ]
    )
    return app


def main() -> None:
    """`python app.py`: the demo, built into data/ on first run, then served."""
    from cli import build, demo, serve

    if not DEMO_DB.exists():
        if not DEMO_INPUT.exists():
            demo(out_dir=DEMO_INPUT)
        build(input_dir=DEMO_INPUT, db=DEMO_DB, as_of=None)
    serve(db=DEMO_DB)


if __name__ == "__main__":
    if len(sys.argv) > 1:  # `python app.py build ...` is the command line, not the default
        from cli import cli

        cli()
    try:
        main()
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
