"""The simulated world behind the demo input folder: calendar, sites, users and each one's planted fate.

Only per-site and per-user quantities live here (small arrays, one entry per site or user). The
weekly probabilities and the events are drawn from them in `demo_activity`; keeping the plan apart
from the sampling is what lets the truth files be written straight from it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

DAY_S = 86_400
WEEK_S = 7 * DAY_S

KINDS = (
    "steady",
    "light_steady",
    "silent_stop",
    "silent_fade",
    "ticketed_drop",
    "never_activated",
    "new",
    "deactivated",
    "dip_recovered",
)
(
    STEADY,
    LIGHT_STEADY,
    SILENT_STOP,
    SILENT_FADE,
    TICKETED_DROP,
    NEVER_ACTIVATED,
    NEW,
    DEACTIVATED,
    DIP_RECOVERED,
) = range(len(KINDS))
DROP_KINDS = (SILENT_STOP, SILENT_FADE, TICKETED_DROP)

# The overall mix asked for, and the mix at struggling sites (more droppers, more never-activated).
# Healthy sites get whatever keeps the overall mix on target.
TARGET_MIX = np.array([0.50, 0.12, 0.06, 0.06, 0.05, 0.05, 0.04, 0.05, 0.07])
STRUGGLING_MIX = np.array([0.33, 0.12, 0.12, 0.10, 0.05, 0.12, 0.04, 0.05, 0.07])
STRUGGLING_SHARE = 0.22
HEALTHY_MIX = (TARGET_MIX - STRUGGLING_SHARE * STRUGGLING_MIX) / (1 - STRUGGLING_SHARE)

ROLES = ("clinician", "nurse", "admin", "pharmacist", "therapist", "scheduler")
ROLE_SHARE = np.array([0.38, 0.30, 0.10, 0.08, 0.08, 0.06])
ROLE_RATE = np.array([1.0, 1.2, 0.7, 1.1, 0.8, 1.3])  # events per active week, relative
ROLE_NIGHT_SHARE = np.array([0.08, 0.18, 0.02, 0.10, 0.03, 0.02])  # share of events outside office hours

REGIONS = ("London", "South East", "South West", "Midlands", "East", "North West", "North East", "Scotland", "Wales")
PLACES = (
    "Ashford",
    "Belmont",
    "Carrow",
    "Dunmere",
    "Eastleigh",
    "Fernhill",
    "Glenrock",
    "Harwood",
    "Ivybridge",
    "Juniper",
    "Kestrel",
    "Larkfield",
    "Millbrook",
    "Northgate",
    "Oakmere",
    "Pinewood",
    "Queensbury",
    "Redcliffe",
    "Stonebridge",
    "Thornbury",
    "Upton",
    "Valemount",
    "Westfield",
    "Yarrow",
)
SITE_TYPES = ("General Hospital", "Community Hospital", "Medical Centre", "Health Centre", "Infirmary", "Clinic")

EVENT_NAMES = (
    "login",
    "search_patient",
    "open_chart",
    "view_results",
    "write_note",
    "sign_note",
    "place_order",
    "verify_order",
    "record_vitals",
    "schedule_appointment",
    "send_message",
    "print_summary",
    "export_report",
    "logout",
)
DEVICES = ("desktop", "tablet", "mobile")
DEVICE_SHARE = np.array([0.72, 0.18, 0.10])
RELEASES = (("4.1", 0.0), ("4.2", 0.3), ("4.3", 0.55), ("5.0", 0.8))  # version, share of history when out

# per site, indexed by is_struggling: [healthy, struggling]
SITE_TRAINED = np.array([0.60, 0.85])  # chance of a training during the history
ENGAGEMENT = np.array([(0.93, 1.00), (0.70, 0.82)])  # range of the multiplier on weekly use
OUTAGE_SHARE = 0.35  # sites with one week-long outage
TRAINING_DELTA = (0.25, 0.35)  # p -> p + delta * (1 - p) once the ramp is complete
LATE_INVITE_SHARE = 0.25


@dataclass(frozen=True)
class Calendar:
    """Weeks 0..weeks-1, Monday to Sunday UTC; the last one ends on `end`."""

    start: date
    weeks: int

    @classmethod
    def ending(cls, end: date, weeks: int) -> Calendar:
        if end.weekday() != 6:
            raise ValueError(f"end_date {end} is not a Sunday")
        return cls(end - timedelta(days=7 * weeks - 1), weeks)

    @property
    def days(self) -> int:
        return 7 * self.weeks

    @property
    def start_s(self) -> int:
        return (self.start - date(1970, 1, 1)).days * DAY_S

    @property
    def end_s(self) -> int:
        """The first second after the history."""
        return self.start_s + self.days * DAY_S

    def week_of(self, day: date) -> int:
        return (day - self.start).days // 7

    def iso_dates(self, day: np.ndarray) -> np.ndarray:
        """YYYY-MM-DD for day numbers counted from the start."""
        return (np.datetime64(self.start, "D") + day).astype(str)


@dataclass(frozen=True)
class Sites:
    """One entry per site; a week or day of -1 means none."""

    struggling: np.ndarray
    go_live_day: np.ndarray
    engagement: np.ndarray  # multiplier on every user's weekly probability of use
    intensity: np.ndarray  # multiplier on events per active week
    train_week: np.ndarray
    train_day: np.ndarray
    delta: np.ndarray
    outage_week: np.ndarray
    owner: np.ndarray
    region: np.ndarray
    name: np.ndarray

    @property
    def go_live_week(self) -> np.ndarray:
        return self.go_live_day // 7


@dataclass(frozen=True)
class Users:
    """One entry per user, in invitation order (the user id is the position); -1 means none."""

    site: np.ndarray
    role: np.ndarray
    kind: np.ndarray
    invite_day: np.ndarray
    invite_s: np.ndarray
    deact_day: np.ndarray
    deact_s: np.ndarray
    drop_week: np.ndarray
    drop_weeks: np.ndarray  # how long the planted drop lasts
    drop_level: np.ndarray  # activity left during the drop: 0 for a stop
    base_p: np.ndarray  # weekly probability of any use, before dips, drops and training
    rate: np.ndarray  # mean events in an active week
    device: np.ndarray
    update_lag: np.ndarray  # weeks the user lags behind a new app release

    def __len__(self) -> int:
        return len(self.site)

    def take(self, rows: slice) -> Users:
        return Users(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def deact_week(self, weeks: int) -> np.ndarray:
        """The first week without the seat; `weeks` (past the end) if never removed."""
        return np.where(self.deact_day >= 0, self.deact_day // 7, weeks)


@dataclass(frozen=True)
class World:
    calendar: Calendar
    sites: Sites
    users: Users


def id_strings(prefix: str, numbers: np.ndarray, digits: int) -> pa.Array:
    """Fixed-width ids such as u000123, built as raw bytes: no per-row Python formatting at any scale."""
    width = len(prefix) + digits
    out = np.empty((len(numbers), width), np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix.encode(), np.uint8)
    rest = np.asarray(numbers, np.int64).copy()
    for position in range(width - 1, len(prefix) - 1, -1):
        out[:, position] = 48 + rest % 10
        rest //= 10
    offsets = np.arange(0, width * (len(numbers) + 1), width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(len(numbers), pa.py_buffer(offsets), pa.py_buffer(out)).cast(pa.string())


def keep_where(values: np.ndarray | pa.Array, keep: np.ndarray) -> pl.Series:
    """`values` where `keep`, null elsewhere (an empty cell in a CSV)."""
    return pl.select(pl.when(pl.Series(keep)).then(pl.Series(values))).to_series()


def id_digits(count: int, minimum: int) -> int:
    return max(minimum, len(str(max(count - 1, 0))))


def working_moment(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds into a week for office actions (invites, tickets): weekdays, 08:00-18:00."""
    day = rng.choice(7, n, p=[0.21, 0.21, 0.2, 0.2, 0.16, 0.01, 0.01])
    return day * DAY_S + rng.integers(8 * 3600, 18 * 3600, n)


def plan_world(rng: np.random.Generator, calendar: Calendar, n_users: int, n_sites: int) -> World:
    sites = plan_sites(rng, calendar, n_sites)
    return World(calendar, sites, plan_users(rng, calendar, sites, n_users))


def plan_sites(rng: np.random.Generator, calendar: Calendar, n: int) -> Sites:
    """Sites go live over the first half; struggling ones are likelier to be trained, and trained earlier."""
    weeks = calendar.weeks
    struggling = np.zeros(n, bool)
    struggling[rng.permutation(n)[: max(1, round(STRUGGLING_SHARE * n))]] = True
    go_live_week = rng.integers(0, weeks // 2, n)
    trained = rng.random(n) < SITE_TRAINED[struggling.astype(int)]
    earliest, latest = go_live_week + 6, weeks - 2
    position = np.where(struggling, rng.beta(1.3, 3.0, n), rng.beta(2.2, 1.6, n))
    train_week = np.where(trained, earliest + (position * (latest - earliest + 1)).astype(np.int64), -1)
    outage = rng.random(n) < OUTAGE_SHARE
    engagement = ENGAGEMENT[struggling.astype(int)]
    return Sites(
        struggling=struggling,
        go_live_day=7 * go_live_week + rng.integers(0, 5, n),
        engagement=rng.uniform(engagement[:, 0], engagement[:, 1]),
        intensity=rng.lognormal(0.0, 0.25, n) * np.where(struggling, 0.8, 1.0),
        train_week=train_week,
        train_day=np.where(trained, 7 * train_week + rng.integers(1, 4, n), -1),
        delta=rng.uniform(*TRAINING_DELTA, n),
        outage_week=np.where(outage, rng.integers(go_live_week + 1, weeks), -1),
        owner=rng.permutation(np.arange(n) % max(1, round(n / 6.5))),
        region=rng.integers(0, len(REGIONS), n),
        name=_site_names(rng, n),
    )


def _site_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Distinct fake names; past the number of combinations a running number keeps them distinct."""
    combos = len(PLACES) * len(SITE_TYPES)
    pick = np.resize(rng.permutation(combos), n)
    names = np.char.add(
        np.char.add(np.array(PLACES)[pick // len(SITE_TYPES)], " "), np.array(SITE_TYPES)[pick % len(SITE_TYPES)]
    )
    lap = np.arange(n) // combos
    return np.where(lap > 0, np.char.add(np.char.add(names, " "), (lap + 1).astype(str)), names)


def plan_users(rng: np.random.Generator, calendar: Calendar, sites: Sites, n: int) -> Users:
    """Draw each user's site, role, kind, invitation and planted fate, then order them by invitation."""
    n_sites = len(sites.struggling)
    weight = rng.lognormal(0.0, 0.5, n_sites)
    first = np.arange(min(n, n_sites))  # every site gets at least one user
    site = np.concatenate([first, rng.choice(n_sites, n - len(first), p=weight / weight.sum())])
    role = rng.choice(len(ROLES), n, p=ROLE_SHARE)
    mix = np.cumsum(np.stack([HEALTHY_MIX, STRUGGLING_MIX]), axis=1)
    kind = np.minimum((rng.random(n)[:, None] > mix[sites.struggling[site].astype(int)]).sum(axis=1), len(KINDS) - 1)

    invite_day = _invite_days(rng, calendar, sites.go_live_day[site], kind)
    invite_s = calendar.start_s + invite_day * DAY_S + rng.integers(8 * 3600, 18 * 3600, n)
    deactivated = kind == DEACTIVATED
    deact_day = np.where(deactivated, rng.integers(invite_day + 28, np.maximum(calendar.days - 7, invite_day + 29)), -1)
    deact_s = np.where(deactivated, calendar.start_s + deact_day * DAY_S + rng.integers(9 * 3600, 18 * 3600, n), -1)
    drop_week, drop_weeks, drop_level = _planted_drops(rng, calendar.weeks, invite_day // 7, kind)
    base_p = _base_probability(rng, kind) * sites.engagement[site]
    rate = rng.lognormal(np.log(20.0), 0.8, n) * ROLE_RATE[role] * sites.intensity[site]
    # a drop must be visible against the user's own baseline: >= 6 events a week expected (fades >= 12)
    baseline_floor = np.select([np.isin(kind, (SILENT_STOP, TICKETED_DROP)), kind == SILENT_FADE], [6.0, 12.0], 0.0)
    rate = np.maximum(rate, baseline_floor / np.maximum(base_p, 0.01))

    order = np.argsort(invite_s, kind="stable")
    return Users(
        site=site[order].astype(np.int32),
        role=role[order].astype(np.int8),
        kind=kind[order].astype(np.int8),
        invite_day=invite_day[order],
        invite_s=invite_s[order],
        deact_day=deact_day[order],
        deact_s=deact_s[order],
        drop_week=drop_week[order],
        drop_weeks=drop_weeks[order],
        drop_level=drop_level[order],
        base_p=base_p[order],
        rate=rate[order],
        device=rng.choice(len(DEVICES), n, p=DEVICE_SHARE)[order].astype(np.int8),
        update_lag=rng.integers(0, 3, n)[order],
    )


def _invite_days(rng: np.random.Generator, calendar: Calendar, go_live: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Most users are invited in the week of go-live, a quarter later on; `new` ones in the last two weeks.

    Droppers and dippers are invited at go-live so they have a long baseline; deactivated users early
    enough to use the seat for a month; never-activated ones at least three weeks before the end.
    """
    n = len(kind)
    last = calendar.days - 1
    at_go_live = go_live + rng.integers(0, 5, n)
    late_until = np.where(kind == DEACTIVATED, last - 35, last - 21)
    later = rng.integers(go_live, np.maximum(late_until, go_live + 1))
    may_be_late = np.isin(kind, (STEADY, LIGHT_STEADY, NEVER_ACTIVATED, DEACTIVATED))
    day = np.where(may_be_late & (rng.random(n) < LATE_INVITE_SHARE), later, at_go_live)
    return np.where(kind == NEW, last - rng.integers(0, 14, n), day)


def _planted_drops(rng: np.random.Generator, weeks: int, invite_week: np.ndarray, kind: np.ndarray) -> tuple:
    """Week, length and depth of each planted drop.

    Drops start 4-12 weeks before the end (a month of evidence at least), after at least 8 weeks of
    use; dips last 2-4 weeks and end
    at least 4 weeks before the end. A fade keeps 10-25 % of the user's activity; half the ticketed
    drops are fades, half stops.
    """
    n = len(kind)
    drop_last = weeks - 4
    drop_first = np.minimum(np.maximum(weeks - 12, invite_week + 8), drop_last)
    dip_weeks = rng.integers(2, 5, n)
    dip_last = weeks - 4 - dip_weeks
    dip_first = np.minimum(invite_week + 8, dip_last)
    dropper = np.isin(kind, DROP_KINDS)
    dip = kind == DIP_RECOVERED
    drop_week = np.where(dropper, rng.integers(drop_first, drop_last + 1), -1)
    drop_week = np.where(dip, rng.integers(dip_first, dip_last + 1), drop_week)
    fade = rng.uniform(0.10, 0.25, n)
    level = np.where((kind == SILENT_FADE) | ((kind == TICKETED_DROP) & (rng.random(n) < 0.5)), fade, 0.0)
    level = np.where(dip, 0.05, level)
    return drop_week, np.where(dip, dip_weeks, weeks), level


def _base_probability(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    """Weekly probability of any use: light users are in about half the weeks; never-activated in none."""
    n = len(kind)
    p = rng.uniform(0.85, 0.97, n)
    p = np.where(kind == LIGHT_STEADY, rng.uniform(0.30, 0.60, n), p)
    p = np.where(kind == NEW, rng.uniform(0.70, 0.95, n), p)
    p = np.where(kind == DEACTIVATED, rng.uniform(0.60, 0.95, n), p)
    return np.where(kind == NEVER_ACTIVATED, 0.0, p)
