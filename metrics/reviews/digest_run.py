"""One `adoption digest` run: read the latest build and the reviews store once, write each
person's digest, deliver them one by one, and record each as it is accepted.

Idempotent per person and build: a person whose digest for this build is in the store gets
nothing. Nothing is recorded before the server accepted a message, and each accepted message
is recorded at once, so a run that stops halfway (the server goes away, refuses a recipient)
has recorded exactly the digests that went out, and the next run sends only the rest.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from metrics.readers.catalog import has_table
from metrics.readers.portfolio import flagged_by_drop_week, status_totals
from metrics.readers.queue_views import queue_flags
from metrics.readers.site_owners import sites_owned_by
from metrics.readers.site_views import site_ranking
from metrics.readers.store import BuildInfo, latest_build, reading
from metrics.readers.training_views import headline, training_effects
from metrics.reviews.digest import (Digest, Links, SilentChurn, csm_digest, portfolio_digest, risk_got_worse,
                                    snoozes_come_due)
from metrics.reviews.mailer import DeliveryError, Outbox, email_message
from metrics.reviews.queue import Reviews, read_reviews, with_review_state
from metrics.reviews.store import ReviewStore

RECENT_CHURN_WEEKS = 4  # "stopped recently" in an executive's digest: the last month
RISK_COLUMNS = {"site_id": pl.String, "name": pl.String, "risk": pl.String}


@dataclass
class DigestRun:
    """What a run did: the build it reported on, who got a digest, who already had this build's,
    and the failure that stopped it (None when every digest went out)."""

    build: BuildInfo
    delivered: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failure: str | None = None


def run_digests(db: Path, store: ReviewStore, people: dict[str, str], outbox: Outbox, sender: str, links: Links,
                today: date, training_sentence: Callable[[dict[str, Any] | None], str], record: bool) -> DigestRun:
    """Digest `people` (user name -> role, from the auth file) about the latest build in `db`.
    `record` False delivers without writing anything to the store (a preview: the next run
    still sees every flag as new). `training_sentence` words the training effect as the app's
    overview does (passed in: metrics never import the app)."""
    with reading(db) as con:
        build = latest_build(con)
        told = store.digests()
        had_this_build = set(told.filter(pl.col("build_run_id") == build.run_id)["recipient"].str.to_lowercase())
        run = DigestRun(build, already_sent=[person for person in people if person.lower() in had_this_build])
        reviews = read_reviews(store)
        current = _risks(con, sites=None)
        digests = [_digest(con, store, reviews, person, role, build, current, links, today, training_sentence)
                   for person, role in people.items() if person.lower() not in had_this_build]
    run.pending = [digest.recipient for digest in digests]
    if not digests:  # everyone had this build's: no need for the server at all
        return run
    try:
        with outbox:
            if record:
                store.remember_build_risks(build.run_id, current)  # facts of the build, not of who was told
            for digest in digests:
                outbox.send(email_message(digest, sender))
                if record:
                    store.record_digest(digest.recipient, build.run_id, digest.flags)
                    store.log_access(digest.recipient, "digest_sent", users=digest.flags.height,
                                     detail=f"build {build.run_id}")
                run.delivered.append(digest.recipient)
                run.pending.remove(digest.recipient)
    except DeliveryError as error:
        run.failure = str(error)
    return run


def _risks(con: duckdb.DuckDBPyConnection, *, sites: list[str] | None) -> pl.DataFrame:
    """site_id, name, risk of the given sites (None: all); none in a build without site_health."""
    if not has_table(con, "site_health"):
        return pl.DataFrame(schema=RISK_COLUMNS)
    return site_ranking(con, sites=sites).select(*RISK_COLUMNS)


def _digest(con: duckdb.DuckDBPyConnection, store: ReviewStore, reviews: Reviews, person: str, role: str,
            build: BuildInfo, current: pl.DataFrame, links: Links, today: date,
            training_sentence: Callable[[dict[str, Any] | None], str]) -> Digest:
    """One person's digest, from what they may see only: a CSM's own sites, anyone else's all."""
    sites = sites_owned_by(con, person) if role == "csm" else None
    if has_table(con, "user_status"):
        reviewed = with_review_state(queue_flags(con, sites=sites), reviews, person, today, build.as_of)
        new, due = reviewed.filter(pl.col("new")), snoozes_come_due(reviewed, reviews.states, reviews.digests, person)
    else:  # a build without the models: nobody is flagged
        new = due = pl.DataFrame(schema={"user_id": pl.String, "drop_week": pl.Date})
    mine = reviews.digests.filter(pl.col("recipient").str.to_lowercase() == person.lower())
    previous = store.build_risks(mine.sort("sent_at")["build_run_id"][-1]) if mine.height else None
    visible = current if sites is None else current.filter(pl.col("site_id").is_in(sites))
    worse = risk_got_worse(visible, previous)
    first = mine.is_empty()
    if role == "csm":
        return csm_digest(person, build.as_of, new, due, worse, links, first)
    return portfolio_digest(person, build.as_of, new, worse, _silent_churn(con, build.as_of),
                            training_sentence(_training_effect(con)), links, first)


def _silent_churn(con: duckdb.DuckDBPyConnection, as_of: date) -> SilentChurn:
    if not has_table(con, "user_status"):
        return SilentChurn(0, 0, RECENT_CHURN_WEEKS)
    since = as_of - timedelta(weeks=RECENT_CHURN_WEEKS - 1)  # the as_of week and the three before it
    recent = flagged_by_drop_week(con, sites=None).filter(
        (pl.col("status") == "silent_churn") & (pl.col("drop_week") >= since))["users"].sum()
    return SilentChurn(status_totals(con, sites=None).get("silent_churn", 0), int(recent), RECENT_CHURN_WEEKS)


def _training_effect(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    return headline(training_effects(con)) if has_table(con, "training_effect") else None
