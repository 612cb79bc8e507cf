"""The defects real histories showed, each pinned on a hand-made history (issue 12):
flags that expired, flags that flipped without news, holidays read as drops, reason
sentences that were false; and the return model against planted truth."""
from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from metrics.quiet.active_history import active_weeks
from metrics.quiet.quiet_users import score_at, score_users
from metrics.quiet.return_model import fit_return_model, rhythm_band
from metrics.vocabulary import FLAGGED, HORIZON_WEEKS
from tests.support.histories import Person, frames, leavers, regulars, row, score

START = date(2022, 1, 3)  # a Monday: week 0 of every history here
WEEKS = 120


def _week(n: int) -> date:
    return START + timedelta(weeks=n)


@pytest.fixture(scope="module")
def world() -> list[Person]:
    """150 regulars, 60 who leave for good in weeks 10-70 (the past the model learns from), and:"""
    rng = np.random.default_rng(12)
    people = regulars(rng, 150, WEEKS) + leavers(rng, 60, WEEKS, 10, 70)
    used_then_gone = [6 + (w % 5) for w in range(30)] + [0] * (WEEKS - 30)  # weekly, weeks 0-29; silent from 30
    people += [
        Person("u_gone", used_then_gone),
        Person("u_light_gone", [1 if w % 4 == 0 else 0 for w in range(30)] + [0] * (WEEKS - 30)),  # monthly
        Person("u_once", [0] * 20 + [3] + [0] * (WEEKS - 21)),  # one week of use: week 20
        Person("u_fade_then_silent", [12] * 40 + [2, 1, 2, 1, 2, 1] + [0] * (WEEKS - 46)),
        Person("u_light_regular", [1 if w % 2 == 0 else 0 for w in range(WEEKS)]),
        Person("u_back_after_a_year", [5] * 20 + [0] * 60 + [4] * (WEEKS - 80)),
    ]
    return people


@pytest.fixture(scope="module")
def scored_at(world: list[Person]) -> Callable[[int], pl.DataFrame]:
    """The world scored as a build as of week n would score it; each week once, as several tests
    (and every user the flag-holding test follows) ask for the same weeks."""
    return functools.cache(lambda n: score(world, START, _week(n)))


@pytest.mark.parametrize("silent_weeks", [40, 60, 90])
def test_a_user_silent_for_long_stays_silent_churn(scored_at: Callable, silent_weeks: int) -> None:
    # the old scan looked 38 weeks back: a user silent longer fell off both tracks and read `active`
    scored = scored_at(29 + silent_weeks)
    for user_id in ["u_gone", "u_light_gone"]:
        gone = row(scored, user_id)
        assert gone["status"] == "silent_churn", gone["reason"]
        assert gone["drop_week"] == _week(30) if user_id == "u_gone" else gone["drop_week"] <= _week(29)
    once = row(scored, "u_once")  # used it once, in week 20: silent longer still
    assert (once["status"], once["drop_week"]) == ("silent_churn", _week(21))
    assert f"not at all in the {silent_weeks} weeks since" in row(scored, "u_gone")["reason"]


def _flag_history(scored_at: Callable, user_id: str, weeks: range) -> list[tuple[str, date | None]]:
    return [(r["status"], r["drop_week"]) for r in (row(scored_at(w), user_id) for w in weeks)]


@pytest.mark.parametrize("user_id", ["u_gone", "u_light_gone", "u_fade_then_silent"])
def test_a_flag_holds_over_eight_weekly_builds_without_news(scored_at: Callable, user_id: str) -> None:
    first_flagged = next(w for w in range(33, 80) if row(scored_at(w), user_id)["status"] in FLAGGED)
    history = _flag_history(scored_at, user_id, range(first_flagged, first_flagged + 8))
    assert all(status in FLAGGED for status, _ in history), history
    assert len({drop for _, drop in history}) == 1, history  # the same flag: same user, same drop week
    # worse, never better: quiet may become silent_churn, silent_churn never goes back
    statuses = [status for status, _ in history]
    assert statuses == sorted(statuses, key=["quiet", "silent_churn"].index)


def test_a_fade_then_silence_keeps_the_fade_as_its_drop_week(scored_at: Callable) -> None:
    # 12 a week to weeks 0-39, about 1.5 from week 40, nothing from week 46
    gone = row(scored_at(70), "u_fade_then_silent")
    assert (gone["status"], gone["drop_week"]) == ("silent_churn", _week(40))


@pytest.fixture(scope="module")
def holidays() -> tuple[list[Person], dict[int, int]]:
    """Two years of regular users who all take the same three weeks off at the turn of each year,
    and come back; the weeks of 22 Dec, 29 Dec and 5 Jan (2021-2023 calendar from START)."""
    rng = np.random.default_rng(4)
    people = regulars(rng, 120, 110) + leavers(rng, 30, 110, 10, 90)
    breaks = {year: (date(year, 12, 19) - START).days // 7 for year in (2022, 2023)}  # the Monday of 19 Dec
    off = [w for first in breaks.values() for w in range(first, first + 3)]
    people = [Person(p.user_id, [0 if w in off else n for w, n in enumerate(p.events)]) for p in people]
    return people, breaks


def test_a_portfolio_wide_year_end_break_raises_no_alarm(holidays: tuple[list[Person], dict[int, int]]) -> None:
    people, breaks = holidays
    first = breaks[2023]
    for as_of in (_week(first + 2), _week(first + 3)):  # the last week of the break, and the week after
        scored = score(people, START, as_of)
        in_break = scored.filter(pl.col("status").is_in(FLAGGED), pl.col("drop_week") >= _week(first - 1),
                                 pl.col("user_id").str.starts_with("bg"))
        assert in_break.height == 0, in_break.select("user_id", "status", "drop_week", "reason").rows()


def test_reasons_are_true_of_the_user(scored_at: Callable) -> None:
    scored = scored_at(100)
    light = row(scored, "u_light_regular")  # one event every other week for 100 weeks, and in the as_of week
    assert light["status"] == "active"
    assert light["reason"] == "Using it less than once a week in the last 4 weeks, in line with the usual less than once."
    back = row(scored_at(119), "u_back_after_a_year")  # 5 a week, 60 silent weeks, 4 a week since
    assert back["status"] == "active"
    assert back["reason"] == "Using it ~4 times a week in the last 4 weeks, in line with the usual ~4 times."
    early = scored_at(28)  # the one-week user, 8 weeks after their only use
    once = row(early, "u_once")
    assert "less lately" not in once["reason"] and "in line" not in once["reason"]
    assert once["reason"].startswith("Last used it on") or once["reason"].startswith("Used it once, on"), once
    returned = row(scored_at(82), "u_back_after_a_year")  # back for 3 weeks after 60 silent
    assert returned["reason"] == "Using it ~3 times a week in the last 4 weeks, after little or no use before."
    for reason in scored["reason"]:
        assert "likely still active" not in reason and "now and then" not in reason


def test_scores_are_point_in_time(world: list[Person]) -> None:
    # one model fitted on the whole history scores a past week as a build then would have
    whole = frames(world, START, _week(WEEKS - 1))
    model = fit_return_model(active_weeks(whole[1], _week(WEEKS - 1)))
    for week in (35, 52, 77):
        facts, user_weeks, tickets = frames(world, START, _week(week))
        then = score_users(facts, user_weeks, tickets, _week(week))
        later = score_at(facts, whole[1], tickets, _week(week), model)
        exact = [c for c in then.columns if c not in ("p_value", "q_value")]
        assert then.select(exact).equals(later.select(exact))
        for column in ("p_value", "q_value"):  # fits converge to 1e-9, whatever else is fitted beside them
            assert np.allclose(then[column].to_numpy(), later[column].to_numpy(), atol=1e-6, equal_nan=True)


def test_the_return_model_recovers_planted_return_chances() -> None:
    """Users active each week with chance p while they last, who leave for good each week with
    chance h: after s silent weeks the chance to be back within H weeks is known exactly."""
    rng = np.random.default_rng(7)
    n_users, weeks, p, h = 6000, 150, 0.7, 0.03
    joined = rng.integers(0, 50, n_users)
    lasts = joined + rng.geometric(h, n_users)
    week = np.arange(weeks)
    active = (rng.random((n_users, weeks)) < p) & (week >= joined[:, None]) & (week < lasts[:, None])
    as_of = START + timedelta(weeks=weeks - 1)
    user_weeks = pl.DataFrame({
        "user_id": np.repeat([f"u{i:05d}" for i in range(n_users)], weeks),
        "week": np.tile(np.array([START + timedelta(weeks=int(w)) for w in week], dtype="datetime64[D]"), n_users),
        "events": (active * 2).ravel(),
        "is_enrolled": (week >= joined[:, None]).ravel(),
    }).filter(pl.col("week") >= pl.lit(START))
    model = fit_return_model(active_weeks(user_weeks, as_of))
    r = (1 - h) * (1 - p)
    silence = np.arange(1, 21)
    silent_for = h * (1 - r**silence) / (1 - r) + r**silence  # gone at some week, or still there and idle
    back_if_there = p * (1 - h) * (1 - r**HORIZON_WEEKS) / (1 - r)
    truth = r**silence / silent_for * back_if_there
    band = rhythm_band(np.array([30]), np.array([18]), np.array([2.0]))[0]  # active ~70% of 26 weeks, light
    estimate = model.p_back[-1, band, silence]
    assert np.abs(estimate - truth).max() < 0.06, np.round(np.c_[silence, truth, estimate], 3)
