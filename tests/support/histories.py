"""Hand-made weekly histories as the frames the build hands to the scoring, as of any week.

Tests pin behaviour on histories small enough to read: each person is a list of weekly
event counts from a fixed Monday, and the frames are cut at the as_of week the way the
build cuts its tables (nothing after the end of that week is seen).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from metrics.quiet.quiet_users import score_users

MOMENTS = {name: pl.Datetime("us") for name in
           ["invited_at", "deactivated_at", "first_active_at", "last_active_at", "last_ticket_at"]}


@dataclass(frozen=True)
class Person:
    user_id: str
    events: list[int]  # events in each week from the history's first Monday
    site_id: str = "s1"
    invited_week: int = 0
    deactivated_week: int | None = None
    ticket_weeks: tuple[int, ...] = field(default=())  # a ticket on the Wednesday of each


def _moment(start: date, week: int, hours: int) -> datetime:
    return datetime.combine(start + timedelta(weeks=week), datetime.min.time()) + timedelta(hours=hours)


def frames(people: list[Person], start: date, as_of: date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(facts, user_weeks, tickets) as of the week of `as_of` (a Monday), like user_facts,
    main.user_weeks and user_tickets give them."""
    last = (as_of - start).days // 7
    facts, weeks, tickets = [], [], []
    for person in people:
        if person.invited_week > last:
            continue
        seen = person.events[: last + 1]
        active = [w for w, n in enumerate(seen) if n and w >= person.invited_week]
        deactivated = person.deactivated_week
        facts.append({
            "user_id": person.user_id, "site_id": person.site_id, "role": "clinician",
            "invited_at": _moment(start, person.invited_week, 9),
            "deactivated_at": _moment(start, deactivated, 12) if deactivated is not None and deactivated <= last else None,
            "first_active_at": _moment(start, active[0], 10) if active else None,
            "last_active_at": _moment(start, active[-1], 10) if active else None,
            "last_ticket_at": max((_moment(start, w, 60) for w in person.ticket_weeks if w <= last), default=None),
            "trained": False,
        })
        weeks += [{"user_id": person.user_id, "site_id": person.site_id, "week": start + timedelta(weeks=w),
                   "events": n, "active_days": min(n, 5),
                   "is_enrolled": deactivated is None or w < deactivated}
                  for w, n in enumerate(seen) if w >= person.invited_week]
        tickets += [{"user_id": person.user_id, "created_at": _moment(start, w, 60), "category": "login"}
                    for w in person.ticket_weeks if w <= last]
    return (
        pl.DataFrame(facts, schema_overrides=MOMENTS, infer_schema_length=None),
        pl.DataFrame(weeks),
        pl.DataFrame(tickets, schema={"user_id": pl.String, "created_at": pl.Datetime("us"), "category": pl.String}),
    )


def score(people: list[Person], start: date, as_of: date) -> pl.DataFrame:
    """user_status as a build as of `as_of` would write it."""
    return score_users(*frames(people, start, as_of), as_of).with_columns(pl.col("status").cast(pl.String))


def regulars(rng: np.random.Generator, n: int, weeks: int, prefix: str = "bg", site: str = "s1",
             share: float = 0.9, rate: float = 6.0) -> list[Person]:
    """Users who use it most weeks, a few times each, for the whole history."""
    return [Person(f"{prefix}{i:03d}", list(np.where(rng.random(weeks) < share, rng.poisson(rate, weeks) + 1, 0)),
                   site_id=site) for i in range(n)]


def leavers(rng: np.random.Generator, n: int, weeks: int, first: int, last: int, prefix: str = "gone") -> list[Person]:
    """Users like the regulars who stop for good at a random week between `first` and `last`: the
    past a return model learns that long silences seldom end from."""
    people = []
    for i, person in enumerate(regulars(rng, n, weeks, prefix)):
        stop = int(rng.integers(first, last))
        people.append(Person(person.user_id, person.events[:stop] + [0] * (weeks - stop), site_id=person.site_id))
    return people


def row(scored: pl.DataFrame, user_id: str) -> dict:
    return scored.filter(pl.col("user_id") == user_id).row(0, named=True)
