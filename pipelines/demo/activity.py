"""From the planned world to weekly probabilities of use, and from those to timestamped events.

Works on a chunk of users at a time, as (users x weeks) arrays, so memory stays flat at any size.
The latent probabilities are kept beside the draws because the true training effect is computed
from them, not from the sampled events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from pipelines.demo.world import (
    DAY_S,
    DEVICES,
    EVENT_NAMES,
    LIGHT_STEADY,
    NEVER_ACTIVATED,
    RELEASES,
    ROLE_NIGHT_SHARE,
    ROLES,
    WEEK_S,
    Calendar,
    Sites,
    Users,
)

HOLIDAYS = ((12, 25, 0.35), (1, 1, 0.5))  # (month, day, activity factor) for the week holding the day
OUTAGE_FACTOR = 0.2
TRAINING_RAMP = np.array([0.4, 0.75, 1.0])  # share of the full lift in weeks 0, 1, 2+ after training
DAY_WEIGHT = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.15, 0.1])  # Monday..Sunday
DROP_PRESENCE_SHARE = 0.25  # of a planted drop's log-depth taken as fewer active weeks; the rest, fewer events
BURST_SHAPE = 4.0  # gamma shape of week-to-week burstiness (gamma-Poisson): weekly counts vary by ~50 %
MEAN_EXTRA_DAYS = 0.45  # active days = 1 + Binomial(4, this), at most the events
USUAL_DEVICE_SHARE = 0.85

# event mix by role: a shared base, boosted where a role does the work
_NAME_BASE = np.array([6, 10, 14, 9, 8, 5, 5, 1, 3, 2, 4, 2, 1, 5], float)
_ROLE_BOOST = {
    "nurse": {"record_vitals": 5.0, "write_note": 1.5},
    "admin": {"schedule_appointment": 8.0, "export_report": 6.0, "write_note": 0.1, "place_order": 0.0},
    "pharmacist": {"verify_order": 12.0, "place_order": 0.3, "view_results": 1.5},
    "therapist": {"write_note": 2.0, "schedule_appointment": 2.0},
    "scheduler": {"schedule_appointment": 10.0, "open_chart": 0.3, "place_order": 0.0, "write_note": 0.1},
}


def _role_name_probabilities() -> np.ndarray:
    weights = np.tile(_NAME_BASE, (len(ROLES), 1))
    for role, boosts in _ROLE_BOOST.items():
        for name, factor in boosts.items():
            weights[ROLES.index(role), EVENT_NAMES.index(name)] *= factor
    return weights / weights.sum(axis=1, keepdims=True)


NAME_P = _role_name_probabilities()


@dataclass(frozen=True)
class Latent:
    """Per user and week of one chunk: what the sampler draws from and what the truth is made of."""

    p: np.ndarray  # probability of any use in the week
    count_scale: np.ndarray  # multiplier on the events of an active week
    lift: np.ndarray  # p with the site's training minus p without it
    enrolled: np.ndarray  # invited by the week and not yet deactivated


@dataclass(frozen=True)
class EventChunk:
    user: np.ndarray  # global user number
    timestamp_ms: np.ndarray
    name: np.ndarray  # index into EVENT_NAMES
    properties: np.ndarray  # index into property_strings()


def site_week_factors(calendar: Calendar, sites: Sites) -> np.ndarray:
    """Activity factor per site and week: holiday weeks for everyone, a one-week outage at some sites."""
    factor = np.ones((len(sites.struggling), calendar.weeks))
    for year in range(calendar.start.year, calendar.start.year + calendar.weeks // 52 + 2):
        for month, day, holiday_factor in HOLIDAYS:
            week = calendar.week_of(date(year, month, day))
            if 0 <= week < calendar.weeks:
                factor[:, week] *= holiday_factor
    outage = np.flatnonzero(sites.outage_week >= 0)
    factor[outage, sites.outage_week[outage]] *= OUTAGE_FACTOR
    return factor


def latent_weeks(users: Users, sites: Sites, weeks: int, site_factor: np.ndarray) -> Latent:
    """Weekly probability of use: base x site engagement, lifted by training, damped by dips and drops.

    A site-wide factor f (holiday, outage) is split evenly between fewer active weeks and fewer
    events per active week (sqrt(f) each). A planted drop to level d is mostly less work when the
    user does log in (d^(3/4) per active week) and somewhat fewer weeks with any use (d^(1/4)).
    Training lifts the base before the damping, so a stopped user stays stopped:
    p = (b + delta * ramp * (1 - b)) * sqrt(f) * d^(1/4).
    """
    week = np.arange(weeks)[None, :]
    invite_week = (users.invite_day // 7)[:, None]
    enrolled = (week >= invite_week) & (week < users.deact_week(weeks)[:, None])
    # invited on a Sunday: no day of that week is left after the invitation
    days_left = (week != invite_week) | (users.invite_day[:, None] % 7 < 6)
    drop_week = users.drop_week[:, None]
    in_drop = (drop_week >= 0) & (week >= drop_week) & (week < drop_week + users.drop_weeks[:, None])
    site = np.sqrt(site_factor[users.site])
    drop = np.where(in_drop, users.drop_level[:, None], 1.0)
    scale = site * drop ** (1 - DROP_PRESENCE_SHARE)
    damp = site * drop**DROP_PRESENCE_SHARE * (enrolled & days_left)
    base = users.base_p[:, None]
    gain = sites.delta[users.site][:, None] * _training_ramp(sites.train_week[users.site], week) * (1 - base)
    gain *= (users.kind != NEVER_ACTIVATED)[:, None]
    return Latent(p=(base + gain) * damp, count_scale=scale, lift=gain * damp, enrolled=enrolled)


def _training_ramp(train_week: np.ndarray, week: np.ndarray) -> np.ndarray:
    since = week - train_week[:, None]
    ramp = TRAINING_RAMP[np.clip(since, 0, len(TRAINING_RAMP) - 1)]
    return np.where((train_week[:, None] >= 0) & (since >= 0), ramp, 0.0)


def sample_events(
    rng: np.random.Generator, calendar: Calendar, users: Users, first_user: int, latent: Latent
) -> EventChunk:
    """Draw active weeks, bursty counts, 1-5 active days, times of day, names and properties."""
    rows, weeks = np.nonzero(rng.random(latent.p.shape) < latent.p)
    counts = _weekly_counts(rng, users, rows, weeks, latent.count_scale)
    owner, day = _spread_over_days(rng, users, rows, weeks, counts)
    user, week = rows[owner], weeks[owner]
    seconds = calendar.start_s + week.astype(np.int64) * WEEK_S + day * DAY_S
    millis = _time_of_day_ms(rng, ROLE_NIGHT_SHARE[users.role[user]])
    return EventChunk(
        user=(first_user + user).astype(np.int32),
        timestamp_ms=seconds * 1000 + millis,
        name=_event_names(rng, users.role[user]),
        properties=_properties(rng, users, user, week, calendar.weeks),
    )


def _weekly_counts(
    rng: np.random.Generator, users: Users, rows: np.ndarray, weeks: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Events in an active week: gamma-Poisson around the user's rate; light users 1-3."""
    burst = rng.gamma(BURST_SHAPE, 1.0 / BURST_SHAPE, len(rows))
    counts = np.maximum(1, rng.poisson(users.rate[rows] * scale[rows, weeks] * burst))
    light = users.kind[rows] == LIGHT_STEADY
    counts[light] = rng.integers(1, 4, int(light.sum()))
    return counts


def _spread_over_days(
    rng: np.random.Generator, users: Users, rows: np.ndarray, weeks: np.ndarray, counts: np.ndarray
) -> tuple:
    """Pick each active week's days (weekday-heavy, none before the invitation) and put each event on one.

    Days are drawn without replacement by the Gumbel top-k trick, all weeks at once.
    """
    invite_week = users.invite_day[rows] // 7
    first_day = np.where(weeks == invite_week, users.invite_day[rows] % 7 + 1, 0)
    n_days = np.minimum(np.minimum(counts, 1 + rng.binomial(4, MEAN_EXTRA_DAYS, len(rows))), 7 - first_day)
    keys = np.log(DAY_WEIGHT)[None, :] + rng.gumbel(size=(len(rows), 7))
    keys[np.arange(7)[None, :] < first_day[:, None]] = -np.inf
    days = np.argsort(-keys, axis=1)
    owner = np.repeat(np.arange(len(rows)), counts)
    pick = (rng.random(len(owner)) * n_days[owner]).astype(np.int64)
    return owner, days[owner, pick].astype(np.int64)


def _time_of_day_ms(rng: np.random.Generator, night_share: np.ndarray) -> np.ndarray:
    """Office hours around 12:30 for most events; a role-dependent share anywhere in the 24 hours."""
    n = len(night_share)
    office = np.clip(rng.normal(12.5 * 3600, 2.6 * 3600, n), 6.5 * 3600, 20 * 3600)
    seconds = np.where(rng.random(n) < night_share, rng.uniform(0, DAY_S, n), office)
    return (seconds * 1000).astype(np.int64)


def _event_names(rng: np.random.Generator, role: np.ndarray) -> np.ndarray:
    names = np.empty(len(role), np.int8)
    for r in range(len(ROLES)):
        mine = role == r
        names[mine] = rng.choice(len(EVENT_NAMES), int(mine.sum()), p=NAME_P[r])
    return names


def _properties(rng: np.random.Generator, users: Users, user: np.ndarray, week: np.ndarray, weeks: int) -> np.ndarray:
    """Device (mostly the user's usual one) and app version (the latest release, a little late)."""
    device = np.where(
        rng.random(len(user)) < USUAL_DEVICE_SHARE, users.device[user], rng.integers(0, len(DEVICES), len(user))
    )
    release_week = np.array([round(share * weeks) for _, share in RELEASES])
    version = np.maximum(np.searchsorted(release_week, week - users.update_lag[user], side="right") - 1, 0)
    return (device * len(RELEASES) + version).astype(np.int16)


def property_strings() -> list[str]:
    """The JSON text of each properties index used by `_properties`."""
    return [f'{{"device": "{d}", "app_version": "{v}"}}' for d in DEVICES for v, _ in RELEASES]


class TrainingTruth:
    """The planted training effect on the weekly active rate, gathered chunk by chunk.

    Per site and week it sums the lift (p with training - p without) and counts the enrolled users,
    so the site-week effect is the mean lift over enrolled users; the reported effects average
    those over trained sites' weeks: overall from the training week on, and per week since training.
    """

    EVENT_WEEKS = np.arange(-8, 13)

    def __init__(self, n_sites: int, weeks: int) -> None:
        self.lift = np.zeros((n_sites, weeks))
        self.enrolled = np.zeros((n_sites, weeks))

    def add(self, users: Users, latent: Latent) -> None:
        np.add.at(self.lift, users.site, latent.lift)
        np.add.at(self.enrolled, users.site, latent.enrolled)

    def effects(self, train_week: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(overall, event weeks, effect per event week); weeks no trained site reaches are left out."""
        trained = np.flatnonzero(train_week >= 0)
        enrolled = self.enrolled[trained]
        has_users = enrolled > 0
        site_week = np.divide(self.lift[trained], enrolled, out=np.zeros_like(enrolled), where=has_users)
        since = np.arange(self.lift.shape[1])[None, :] - train_week[trained][:, None]
        after = has_users & (since >= 0)
        overall = float(site_week[after].mean()) if after.any() else float("nan")
        window = has_users & (since >= self.EVENT_WEEKS[0]) & (since <= self.EVENT_WEEKS[-1])
        slot = since[window] - self.EVENT_WEEKS[0]
        n = np.bincount(slot, minlength=len(self.EVENT_WEEKS))
        total = np.bincount(slot, weights=site_week[window], minlength=len(self.EVENT_WEEKS))
        seen = n > 0
        return overall, self.EVENT_WEEKS[seen], total[seen] / n[seen]
