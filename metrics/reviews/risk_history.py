"""Each build's site risks, kept in the reviews store (table `build_site_risks`).

The analytics file holds only the current build's `site_health`: a build replaces it. To
say which sites got worse since a person's previous digest, the digest run keeps the risks
of every build it ran over, keyed by the build's run id, which the store's `digests` already
records per person. A build's risks are facts about that build, not about who was told, so
writing them before anything is sent records nothing as sent.
"""
from __future__ import annotations

import sqlite3

import polars as pl

from metrics.reviews.store import BUSY_TIMEOUT_MS, ReviewStore

RISK_SCHEMA = {"site_id": pl.String, "risk": pl.String}


def remember_build_risks(store: ReviewStore, build_run_id: str, risks: pl.DataFrame) -> None:
    """Keep `risks` (site_id, risk) as this build's; a build already kept stays as it was."""
    con = sqlite3.connect(store.path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        with con:  # one transaction
            con.executemany("insert or ignore into build_site_risks values (?, ?, ?)",
                            [(build_run_id, site, risk) for site, risk in risks.select("site_id", "risk").rows()])
    finally:
        con.close()


def build_risks(store: ReviewStore, build_run_id: str) -> pl.DataFrame | None:
    """The site risks kept for this build (site_id, risk), or None when none were kept."""
    con = sqlite3.connect(store.path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        rows = con.execute("select site_id, risk from build_site_risks where build_run_id = ? order by site_id",
                           [build_run_id]).fetchall()
    finally:
        con.close()
    return pl.DataFrame(rows, schema=RISK_SCHEMA, orient="row") if rows else None
