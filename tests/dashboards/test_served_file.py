"""`adoption serve` reads the file through one connection it holds (metrics.readers.held): a new
build renamed over the file must show on the very next request, and while the server holds the
file nobody can open it for writing (a build never does: it renames a new file over it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import duckdb
import pytest

from tests.support import copy_db
from tests.support.serving import page_dbs, served


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return page_dbs(tmp_path_factory.getbasetemp())["full"]


def site_page(url: str, site_id: str) -> str:
    """The site page as the browser asks for it (the page router's callback), as text."""
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": f"/sites/{site_id}"},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": ["_pages_location.pathname"],
    }
    request = urllib.request.Request(url + "/_dash-update-component", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def test_a_build_renamed_over_the_served_file_shows_at_once(full: Path, tmp_path: Path) -> None:
    db = copy_db(full, tmp_path / "served.duckdb")
    with duckdb.connect(str(db), read_only=True) as con:
        [(site_id,)] = con.execute("select min(site_id) from core.sites").fetchall()
    with served(db) as url:
        assert "Renamed by the next build" not in site_page(url, site_id)
        rebuilt = copy_db(full, tmp_path / "rebuilt.duckdb")
        with duckdb.connect(str(rebuilt)) as con:
            con.execute("update core.sites set site_name = 'Renamed by the next build' where site_id = ?", [site_id])
        os.replace(rebuilt, db)  # as a build does
        assert "Renamed by the next build" in site_page(url, site_id)


def test_a_served_file_cannot_be_opened_for_writing(full: Path, tmp_path: Path) -> None:
    db = copy_db(full, tmp_path / "served.duckdb")
    with duckdb.connect(str(db), read_only=True) as con:
        [(site_id,)] = con.execute("select min(site_id) from core.sites").fetchall()
    with served(db) as url:
        before = site_page(url, site_id)
        writer = subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(db)!r})"],
                                capture_output=True, text=True)
        assert writer.returncode != 0 and "lock" in writer.stderr.lower()
        assert site_page(url, site_id) == before
