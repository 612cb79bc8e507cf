"""The product's features, and where the demo's adoption journeys are planted to stall.

Planted on the event names only, after the events are drawn: which events happen and when is
left as it was, so the quiet-user truth does not move. An event a plan forbids takes another
name the user's role would use, drawn from its own random stream. What is planted:

    onboarding_stall     at a tenth of the sites most users never do a key action
    slow_to_first_value  one role's first key action comes 4-8 weeks after the invitation
    never_adopts         the largest other site never uses order entry
    abandons_first       a dropping user stops one of their main features 4-8 weeks before the drop
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.demo.activity import NAME_P, EventChunk
from pipelines.demo.world import DAY_S, DROP_KINDS, EVENT_NAMES, ROLES, World, id_strings

# event name -> (feature, is a key action); login and logout are not features
FEATURE_MAP = {
    "login": (None, False),
    "search_patient": ("Patient search", False),
    "open_chart": ("Charting", False),
    "view_results": ("Results review", False),
    "write_note": ("Clinical notes", False),
    "sign_note": ("Clinical notes", True),
    "place_order": ("Order entry", True),
    "verify_order": ("Order entry", True),
    "record_vitals": ("Vitals", True),
    "schedule_appointment": ("Scheduling", True),
    "send_message": ("Messaging", False),
    "print_summary": ("Reporting", False),
    "export_report": ("Reporting", False),
    "logout": (None, False),
}
FEATURES = tuple(dict.fromkeys(f for f, _ in FEATURE_MAP.values() if f))
FEATURE_OF_NAME = np.array([FEATURES.index(FEATURE_MAP[n][0]) if FEATURE_MAP[n][0] else -1 for n in EVENT_NAMES])
IS_KEY = np.array([FEATURE_MAP[n][1] for n in EVENT_NAMES])

STALLED_SITE_SHARE = 0.1
STALLED_USER_SHARE = 0.75  # of a stalled site's users, those who never reach first value
SLOW_ROLE = "therapist"
SLOW_WEEKS = (4, 8)  # weeks from the invitation to the slow role's first key action
NEVER_ADOPTED = "Order entry"
ABANDON_WEEKS = (4, 8)  # weeks before the drop that the first feature stops
MAIN_FEATURE_SHARE = 0.10  # of the role's events: a feature this common is one of its main ones


@dataclass(frozen=True)
class JourneyPlan:
    """Per site and per user (global numbers); -1 means none."""

    stalled_site: np.ndarray
    never_feature: np.ndarray  # per site: the feature it never uses
    stalled_user: np.ndarray
    value_from_s: np.ndarray  # per user: no key action before this second (-1: any time)
    abandon_feature: np.ndarray
    abandon_from_s: np.ndarray


def _allowed(plan: JourneyPlan, site: np.ndarray, user: np.ndarray, seconds: np.ndarray | None) -> np.ndarray:
    """Which event names the plan lets each (user, moment) use: rows x names. Without moments,
    the names the user may use at all (before any abandonment)."""
    key = IS_KEY[None, :]
    feature = FEATURE_OF_NAME[None, :]
    forbidden = key & plan.stalled_user[user][:, None]
    forbidden |= feature == plan.never_feature[site][:, None]
    if seconds is not None:
        forbidden |= key & (seconds < plan.value_from_s[user])[:, None]
        abandoned = (plan.abandon_feature[user] >= 0) & (seconds >= plan.abandon_from_s[user])
        forbidden |= (feature == plan.abandon_feature[user][:, None]) & abandoned[:, None]
    return ~forbidden


def _main_features(probability: np.ndarray) -> np.ndarray:
    """Rows x features: whether the feature is one of the row's main ones, by share of its events."""
    share = np.zeros((len(probability), len(FEATURES)))
    for name, feature in enumerate(FEATURE_OF_NAME):
        if feature >= 0:
            share[:, feature] += probability[:, name]
    return share >= MAIN_FEATURE_SHARE


def plan_journey(rng: np.random.Generator, world: World) -> JourneyPlan:
    sites, users, calendar = world.sites, world.users, world.calendar
    n_sites, n = len(sites.struggling), len(users)
    stalled_site = np.zeros(n_sites, bool)
    stalled_site[rng.permutation(n_sites)[: max(1, round(STALLED_SITE_SHARE * n_sites))]] = True
    never_feature = np.full(n_sites, -1)
    size = np.bincount(users.site, minlength=n_sites)
    if (~stalled_site).any():
        never_feature[np.argmax(np.where(stalled_site, -1, size))] = FEATURES.index(NEVER_ADOPTED)

    stalled_user = stalled_site[users.site] & (rng.random(n) < STALLED_USER_SHARE)
    slow = users.role == ROLES.index(SLOW_ROLE)
    delay_s = rng.integers(SLOW_WEEKS[0] * 7, SLOW_WEEKS[1] * 7 + 1, n) * DAY_S
    value_from_s = np.where(slow, users.invite_s + delay_s, -1)

    plan = JourneyPlan(stalled_site, never_feature, stalled_user, value_from_s, np.full(n, -1), np.full(n, -1))
    everyone = np.arange(n)
    usable = _allowed(plan, users.site, everyone, None)
    main = _main_features(NAME_P[users.role] * usable)
    dropper = np.isin(users.kind, DROP_KINDS) & main.any(axis=1)
    pick = np.argmax(np.where(main, rng.random(main.shape), -1.0), axis=1)
    weeks_before = rng.integers(ABANDON_WEEKS[0], ABANDON_WEEKS[1] + 1, n)
    abandon_week = np.maximum(users.drop_week - weeks_before, users.invite_day // 7 + 4)
    abandon_from_s = calendar.start_s + abandon_week * 7 * DAY_S
    dropper &= abandon_week < users.drop_week
    return JourneyPlan(
        stalled_site,
        never_feature,
        stalled_user,
        value_from_s,
        np.where(dropper, pick, -1),
        np.where(dropper, abandon_from_s, -1),
    )


def plant_journey(rng: np.random.Generator, world: World, plan: JourneyPlan, chunk: EventChunk) -> EventChunk:
    """The chunk with every event the plan forbids renamed to an allowed name of the user's role."""
    seconds = chunk.timestamp_ms // 1000
    site = world.users.site[chunk.user]
    allowed = _allowed(plan, site, chunk.user, seconds)
    bad = np.flatnonzero(~allowed[np.arange(len(chunk.name)), chunk.name])
    if len(bad) == 0:
        return chunk
    weights = NAME_P[world.users.role[chunk.user[bad]]] * allowed[bad]
    cumulative = np.cumsum(weights, axis=1)
    draw = rng.random(len(bad)) * cumulative[:, -1]
    names = chunk.name.copy()
    names[bad] = (cumulative < draw[:, None]).sum(axis=1)
    return EventChunk(chunk.user, chunk.timestamp_ms, names, chunk.properties)


def features_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_name": list(FEATURE_MAP),
            "feature": [feature for feature, _ in FEATURE_MAP.values()],
            "is_key_action": [key for _, key in FEATURE_MAP.values()],
        },
        schema={"event_name": pl.String, "feature": pl.String, "is_key_action": pl.Boolean},
    )


def truth_journey_frame(world: World, plan: JourneyPlan, user_digits: int, site_digits: int) -> pl.DataFrame:
    """subject (site, role or user), id, kind, feature, since (the day an abandonment began):
    what was planted, for tests and evaluation."""
    calendar = world.calendar
    stalled = np.flatnonzero(plan.stalled_site)
    never = np.flatnonzero(plan.never_feature >= 0)
    droppers = np.flatnonzero(plan.abandon_feature >= 0)
    site_ids = id_strings("s", np.concatenate([stalled, never]), site_digits).to_pylist()
    user_ids = id_strings("u", droppers, user_digits).to_pylist()
    return pl.DataFrame(
        {
            "subject": ["site"] * len(stalled) + ["role"] + ["site"] * len(never) + ["user"] * len(droppers),
            "id": site_ids[: len(stalled)] + [SLOW_ROLE] + site_ids[len(stalled):] + user_ids,
            "kind": ["onboarding_stall"] * len(stalled)
            + ["slow_to_first_value"]
            + ["never_adopts"] * len(never)
            + ["abandons_first"] * len(droppers),
            "feature": [None] * (len(stalled) + 1)
            + [FEATURES[f] for f in plan.never_feature[never]]
            + [FEATURES[f] for f in plan.abandon_feature[droppers]],
            "since": [None] * (len(stalled) + 1 + len(never))
            + calendar.iso_dates((plan.abandon_from_s[droppers] - calendar.start_s) // DAY_S).tolist(),
        },
        schema={"subject": pl.String, "id": pl.String, "kind": pl.String, "feature": pl.String, "since": pl.String},
    )

