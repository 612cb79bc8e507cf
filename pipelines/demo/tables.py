"""The small tables of the demo folder: sites, users, trainings, and the truth files beside them.

Each function returns a polars frame ready for `write_csv`; a null becomes an empty cell. The bad
rows that belong in these files (invalid invited_at, invalid session_date) are made here too.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.demo.world import KINDS, REGIONS, ROLE_SHARE, ROLES, World, id_strings, keep_where

FOLLOW_UP_SHARE = 0.4  # trained sites that get a later webinar
ATTENDANCE_LISTED = 0.9  # enrolled users with an attendance row at the first session
ATTENDED = 0.88
ONBOARDING_WITHIN_DAYS = 42  # a first session this soon after go-live is an onboarding
BAD_INVITED_AT = ("2026-13-01T09:00:00Z", "not a date", "31/02/2026", "2026-02-30")
BAD_SESSION_DATES = ("2026-02-30", "TBD", "15/03/2026", "2026-13-05")


def _ids(prefix: str, number: np.ndarray, digits: int) -> pl.Series:
    return pl.Series(id_strings(prefix, number, digits))


def _iso_seconds(seconds: np.ndarray) -> np.ndarray:
    return np.char.add(seconds.astype("datetime64[s]").astype(str), "Z")


def sites_frame(rng: np.random.Generator, world: World, site_digits: int) -> pl.DataFrame:
    """Licences cover the invited users with 0-50 % to spare; owners are csm0@vendor.example and so on."""
    sites = world.sites
    n = len(sites.struggling)
    invited = np.bincount(world.users.site, minlength=n)
    return pl.DataFrame(
        {
            "site_id": _ids("s", np.arange(n), site_digits),
            "name": sites.name,
            "region": np.array(REGIONS)[sites.region],
            "go_live_date": world.calendar.iso_dates(sites.go_live_day),
            "licensed_seats": np.ceil(invited * rng.uniform(1.0, 1.5, n)).astype(np.int64),
            "owner": np.char.add(np.char.add("csm", sites.owner.astype(str)), "@vendor.example"),
        }
    )


def users_frame(rng: np.random.Generator, world: World, user_digits: int, site_digits: int, n_bad: int) -> pl.DataFrame:
    """One row per user, then `n_bad` extra users whose invited_at cannot be parsed (and who have no events)."""
    users = world.users
    n = len(users)
    bad_site = rng.integers(0, len(world.sites.struggling), n_bad)
    return pl.DataFrame(
        {
            "user_id": _ids("u", np.arange(n + n_bad), user_digits),
            "site_id": _ids("s", np.concatenate([users.site, bad_site]), site_digits),
            "role": np.array(ROLES)[np.concatenate([users.role, rng.choice(len(ROLES), n_bad, p=ROLE_SHARE)])],
            "invited_at": np.concatenate([_iso_seconds(users.invite_s), np.resize(np.array(BAD_INVITED_AT), n_bad)]),
            "deactivated_at": keep_where(
                np.concatenate([_iso_seconds(np.maximum(users.deact_s, 0)), np.full(n_bad, "")]),
                np.concatenate([users.deact_s >= 0, np.zeros(n_bad, bool)]),
            ),
        }
    )


def trainings_frame(
    rng: np.random.Generator, world: World, user_digits: int, site_digits: int, n_bad: int
) -> pl.DataFrame:
    """Per trained site: a whole-site first session, attendance rows for most enrolled users, maybe a webinar.

    Ends with `n_bad` rows whose session_date is not a date.
    """
    sites, users, calendar = world.sites, world.users, world.calendar
    trained = np.flatnonzero(sites.train_week >= 0)
    first_kind = np.where(sites.train_day - sites.go_live_day <= ONBOARDING_WITHIN_DAYS, "onboarding", "refresher")
    session_day = sites.train_day[users.site]
    enrolled = (
        (session_day >= 0)
        & (users.invite_day < session_day)
        & ((users.deact_day < 0) | (users.deact_day > session_day))
    )
    listed = np.flatnonzero(enrolled & (rng.random(len(users)) < ATTENDANCE_LISTED))
    webinar = trained[rng.random(len(trained)) < FOLLOW_UP_SHARE]
    webinar_day = sites.train_day[webinar] + 7 * rng.integers(3, 11, len(webinar))
    webinar, webinar_day = webinar[webinar_day < calendar.days], webinar_day[webinar_day < calendar.days]
    bad_site = trained[rng.integers(0, len(trained), n_bad)] if len(trained) else np.zeros(n_bad, np.int64)

    site = np.concatenate([trained, users.site[listed], webinar, bad_site])
    user = np.concatenate([np.full(len(trained), -1), listed, np.full(len(webinar) + n_bad, -1)])
    day = np.concatenate([sites.train_day[trained], session_day[listed], webinar_day])
    frame = pl.DataFrame(
        {
            "site_id": _ids("s", site, site_digits),
            "session_date": np.concatenate([calendar.iso_dates(day), np.resize(np.array(BAD_SESSION_DATES), n_bad)]),
            "user_id": _ids("u", np.maximum(user, 0), user_digits),
            "kind": np.concatenate(
                [
                    first_kind[site[: len(trained) + len(listed)]],
                    np.full(len(webinar), "webinar"),
                    np.full(n_bad, "refresher"),
                ]
            ),
            "attended": np.concatenate(
                [np.ones(len(trained), bool), rng.random(len(listed)) < ATTENDED, np.ones(len(webinar) + n_bad, bool)]
            ),
        }
    )
    frame = frame.with_columns(keep_where(frame["user_id"], user >= 0).alias("user_id"))
    return frame.sort(["session_date", "site_id", "user_id"], nulls_last=False, maintain_order=True)


def truth_frame(world: World, user_digits: int) -> pl.DataFrame:
    """user_id, kind and the Monday of the week the planted drop (or dip) began."""
    users, calendar = world.users, world.calendar
    return pl.DataFrame(
        {
            "user_id": _ids("u", np.arange(len(users)), user_digits),
            "kind": np.array(KINDS)[users.kind],
            "drop_week": keep_where(calendar.iso_dates(7 * np.maximum(users.drop_week, 0)), users.drop_week >= 0),
        }
    )


def truth_sites_frame(world: World, site_digits: int) -> pl.DataFrame:
    sites, calendar = world.sites, world.calendar
    return pl.DataFrame(
        {
            "site_id": _ids("s", np.arange(len(sites.struggling)), site_digits),
            "is_struggling": sites.struggling,
            "first_training_date": keep_where(calendar.iso_dates(np.maximum(sites.train_day, 0)), sites.train_day >= 0),
        }
    )


def truth_training_frame(overall: float, event_weeks: np.ndarray, effects: np.ndarray) -> pl.DataFrame:
    """The planted effect on weekly_active_rate: overall (empty event_week) then by week since training."""
    return pl.DataFrame(
        {
            "outcome": "weekly_active_rate",
            "event_week": [None, *event_weeks.tolist()],
            "effect": np.round([overall, *effects], 6),
        },
        schema={"outcome": pl.String, "event_week": pl.Int64, "effect": pl.Float64},
    )
