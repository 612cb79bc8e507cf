"""Support tickets: background noise for everyone, one ticket at each ticketed drop, some site tickets.

Silent droppers file nothing from two weeks before their drop on; that silence is what the quiet
flag must find. The free text is full of fake patient identifiers (formats below) because real
ticket text is, and the loader must drop it.

Fake identifier formats, each matched by the regex beside it:
    MRN 48213377                          MRN \\d{8}
    Patient: Maria Lopez DOB 1961-04-09   Patient: [A-Z][a-z]+ [A-Z][a-z]+ DOB \\d{4}-\\d{2}-\\d{2}
    NHS 999 476 5919                      NHS 999 \\d{3} \\d{4}   (999 is the NHS test range)
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from pipelines.demo.world import (
    DAY_S,
    DROP_KINDS,
    NEVER_ACTIVATED,
    TICKETED_DROP,
    WEEK_S,
    World,
    id_digits,
    id_strings,
    keep_where,
    working_moment,
)

TICKETS_PER_USER_WEEK = 0.007  # about 3 % of users file a ticket in a month
SITE_TICKETS_PER_WEEK = 0.04
STRUGGLING_TICKET_FACTOR = 1.5
USER_TICKET_SITE_SHARE = 0.7  # user tickets that also name the site

CATEGORIES = ("login", "performance", "data_sync", "how_to", "bug", "integration", "access_request")
TOPICS = ("Login", "Performance", "Data sync", "How-to", "Bug", "Integration", "Access request")
BACKGROUND_MIX = np.array([0.15, 0.12, 0.10, 0.30, 0.15, 0.08, 0.10])
DROP_MIX = np.array([0.25, 0.30, 0.15, 0.05, 0.20, 0.05, 0.0])
SITE_MIX = np.array([0.05, 0.20, 0.25, 0.05, 0.10, 0.35, 0.0])
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_SHARE = np.array([0.25, 0.50, 0.20, 0.05])
CHANNELS = ("email", "web", "phone", "chat")
CHANNEL_SHARE = np.array([0.35, 0.35, 0.20, 0.10])
COMMENT_SHARE = 0.15

FIRST_NAMES = ("Maria", "James", "Aisha", "Tom", "Priya", "Owen", "Grace", "Liam", "Fatima", "Noah", "Chloe", "Ravi")
LAST_NAMES = ("Lopez", "Smith", "Khan", "Evans", "Patel", "Hughes", "Okafor", "Murphy", "Nowak", "Reid", "Chen", "Ali")
SYMPTOMS = ("freezes", "shows a blank page", "times out", "logs me out", "shows the wrong ward")
SUBJECTS = (
    "Cannot open chart for MRN {mrn}",
    "{topic} problem with Patient: {first} {last} DOB {dob}",
    "Record NHS {nhs} will not save",
    "{topic} question",
)
DESCRIPTIONS = (
    "Hi team, when I open Patient: {first} {last} DOB {dob} (MRN {mrn}) the screen {symptom}. Please advise.",
    "User reports that the record for NHS {nhs} {symptom} since this morning. Steps: search, open chart, Orders.",
    "Happens with MRN {mrn} and others on the ward; the screen {symptom}. Patient: {first} {last} DOB {dob} waited.",
    "General {topic} question from the site lead, no patient involved.",
)
COMMENT = "Called back: Patient: {first} {last} DOB {dob} (MRN {mrn}) loads now. NHS {nhs} checked too."


def tickets_frame(
    rng: np.random.Generator, world: World, user_digits: int, site_digits: int, n_bad: int
) -> pl.DataFrame:
    """All tickets in creation order, ids t0000001.., with `n_bad` that name neither user nor site."""
    parts = [_background(rng, world), _at_drops(rng, world), _site_tickets(rng, world), _orphans(rng, world, n_bad)]
    created, user, site, category = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.argsort(created, kind="stable")
    created, user, site, category = created[order], user[order], site[order], category[order]
    n = len(created)
    solved = created + (rng.lognormal(np.log(20.0), 1.1, n) * 3600).astype(np.int64)
    still_open = (solved >= world.calendar.end_s) | (rng.random(n) < 0.03)
    status = np.where(solved < world.calendar.end_s - 4 * DAY_S, "closed", "solved")
    status = np.where(still_open, np.array(["open", "pending"])[rng.integers(0, 2, n)], status)
    frame = pl.DataFrame(
        {
            "ticket_id": id_strings("t", np.arange(1, n + 1), id_digits(n + 1, 7)),
            "created_at": created,
            "user_id": _optional_ids("u", user, user_digits),
            "site_id": _optional_ids("s", site, site_digits),
            "solved_at": np.where(still_open, -1, solved),
            "status": status,
            "priority": np.array(PRIORITIES)[rng.choice(len(PRIORITIES), n, p=PRIORITY_SHARE)],
            "category": np.array(CATEGORIES)[category],
            "channel": np.array(CHANNELS)[rng.choice(len(CHANNELS), n, p=CHANNEL_SHARE)],
        }
    )
    return frame.with_columns(
        _iso(pl.col("created_at")),
        pl.when(pl.col("solved_at") >= 0).then(_iso(pl.col("solved_at"))).alias("solved_at"),
    ).hstack(_free_text(rng, category))


def _background(rng: np.random.Generator, world: World) -> tuple:
    """Occasional tickets in any week after the invitation week, while the seat lasts.

    Droppers stop two weeks before their drop (the ticketed ones file their own ticket at the drop);
    never-activated users file none.
    """
    users, weeks = world.users, world.calendar.weeks
    first = users.invite_day // 7 + 1
    stop = users.deact_week(weeks)
    stop = np.where(np.isin(users.kind, DROP_KINDS), np.minimum(stop, users.drop_week - 2), stop)
    span = np.where(users.kind == NEVER_ACTIVATED, 0, np.maximum(stop - first, 0))
    rate = TICKETS_PER_USER_WEEK * np.where(world.sites.struggling[users.site], STRUGGLING_TICKET_FACTOR, 1.0)
    user = np.repeat(np.arange(len(users)), rng.binomial(span, rate))
    week = first[user] + (rng.random(len(user)) * span[user]).astype(np.int64)
    created = world.calendar.start_s + week * WEEK_S + working_moment(rng, len(user))
    return (
        created,
        user,
        _site_if_named(rng, users.site[user]),
        rng.choice(len(CATEGORIES), len(user), p=BACKGROUND_MIX),
    )


def _at_drops(rng: np.random.Generator, world: World) -> tuple:
    """Each ticketed dropper files one ticket within a week either side of the drop's Monday."""
    users = world.users
    user = np.flatnonzero(users.kind == TICKETED_DROP)
    day = 7 * users.drop_week[user] + rng.integers(-7, 8, len(user))
    created = world.calendar.start_s + day * DAY_S + rng.integers(8 * 3600, 18 * 3600, len(user))
    return created, user, _site_if_named(rng, users.site[user]), rng.choice(len(CATEGORIES), len(user), p=DROP_MIX)


def _site_tickets(rng: np.random.Generator, world: World) -> tuple:
    """Tickets a site files as a whole (integrations, sync), from the week after go-live."""
    sites, weeks = world.sites, world.calendar.weeks
    first = sites.go_live_week + 1
    span = np.maximum(weeks - first, 0)
    rate = SITE_TICKETS_PER_WEEK * np.where(sites.struggling, 2.0, 1.0)
    site = np.repeat(np.arange(len(sites.struggling)), rng.binomial(span, rate))
    week = first[site] + (rng.random(len(site)) * span[site]).astype(np.int64)
    created = world.calendar.start_s + week * WEEK_S + working_moment(rng, len(site))
    return created, np.full(len(site), -1), site, rng.choice(len(CATEGORIES), len(site), p=SITE_MIX)


def _orphans(rng: np.random.Generator, world: World, n: int) -> tuple:
    """Bad rows: tickets with neither a user nor a site."""
    created = world.calendar.start_s + rng.integers(0, world.calendar.weeks, n) * WEEK_S + working_moment(rng, n)
    return created, np.full(n, -1), np.full(n, -1), rng.choice(len(CATEGORIES), n, p=BACKGROUND_MIX)


def _site_if_named(rng: np.random.Generator, site: np.ndarray) -> np.ndarray:
    return np.where(rng.random(len(site)) < USER_TICKET_SITE_SHARE, site, -1)


def _optional_ids(prefix: str, number: np.ndarray, digits: int) -> pl.Series:
    return keep_where(id_strings(prefix, np.maximum(number, 0), digits), number >= 0)


def _iso(seconds: pl.Expr) -> pl.Expr:
    return pl.from_epoch(seconds, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _free_text(rng: np.random.Generator, category: np.ndarray) -> pl.DataFrame:
    """subject, description and (sometimes) comments, filled from templates with fake patient data."""
    n = len(category)
    fields = pl.DataFrame(
        {
            "mrn": rng.integers(10_000_000, 100_000_000, n).astype(str),
            "first": np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)],
            "last": np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)],
            "dob": (np.datetime64("1930-01-01") + rng.integers(0, 80 * 365, n)).astype(str),
            "nhs": np.char.add(
                np.char.add("999 ", rng.integers(100, 1000, n).astype(str)),
                np.char.add(" ", rng.integers(1000, 10000, n).astype(str)),
            ),
            "topic": np.array(TOPICS)[category],
            "symptom": np.array(SYMPTOMS)[rng.integers(0, len(SYMPTOMS), n)],
            "subject_template": rng.integers(0, len(SUBJECTS), n),
            "description_template": rng.integers(0, len(DESCRIPTIONS), n),
            "has_comment": rng.random(n) < COMMENT_SHARE,
        }
    )
    return fields.select(
        _choose(SUBJECTS, "subject_template").alias("subject"),
        _choose(DESCRIPTIONS, "description_template").alias("description"),
        pl.when("has_comment").then(_render(COMMENT)).alias("comments"),
    )


def _render(template: str) -> pl.Expr:
    """A `{field}` template as a polars expression over the columns of the same names."""
    return pl.format(re.sub(r"\{\w+\}", "{}", template), *re.findall(r"\{(\w+)\}", template))


def _choose(templates: tuple[str, ...], column: str) -> pl.Expr:
    return pl.coalesce([pl.when(pl.col(column) == i).then(_render(t)) for i, t in enumerate(templates)])
