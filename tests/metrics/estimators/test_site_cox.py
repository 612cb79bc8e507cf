"""The Cox model with a term per site (metrics/estimators/site_cox.py) against statsmodels'
PHReg on the same rows, on a planted data set: sites with their own level of risk, most
trained at their own week, a planted hazard ratio of training of 0.6, whole weeks (so many
tied events, handled as Efron's)."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from metrics.estimators.site_cox import MonotoneLikelihoodError, SiteCox
from tests.support.reference_cox import phreg

PLANTED_HAZARD_RATIO = 0.6


def planted_rows(seed: int = 11, n_users: int = 3000, n_sites: int = 8, n_weeks: int = 30) -> pl.DataFrame:
    """Counting-process rows: each user at risk from an entry week to an exit week (the week
    of the event or of censoring), split at their site's training week."""
    rng = np.random.default_rng(seed)
    site_level = rng.normal(0, 0.5, n_sites)
    trained_week = np.where(np.arange(n_sites) < 6, rng.integers(5, 25, n_sites), n_weeks + 1)  # two never trained
    site = rng.integers(0, n_sites, n_users)
    entry = rng.integers(0, 10, n_users)
    censor = np.minimum(entry + rng.integers(5, 30, n_users), n_weeks)
    rows = []
    for user in range(n_users):
        s, week = site[user], entry[user]
        while week < censor[user]:
            week += 1  # at risk in (week - 1, week]
            trained = week > trained_week[s]
            hazard = 0.03 * np.exp(site_level[s]) * (PLANTED_HAZARD_RATIO if trained else 1.0)
            if rng.random() < hazard:
                rows.append((user, s, entry[user], week, True))
                break
        else:
            rows.append((user, s, entry[user], censor[user], False))
    users = pl.DataFrame(rows, schema=["user_id", "site", "entry", "exit", "event"], orient="row")
    users = users.with_columns(pl.format("s{}", "site").alias("site_id"),
                               pl.col("site").replace_strict(dict(enumerate(trained_week.tolist()))).alias("trained_at"))
    before = users.select("user_id", "site_id", pl.lit(False).alias("trained"), pl.col("entry").alias("start"),
                          pl.min_horizontal("exit", "trained_at").alias("stop"),
                          pl.col("event") & (pl.col("exit") <= pl.col("trained_at")))
    after = users.select("user_id", "site_id", pl.lit(True).alias("trained"),
                         pl.max_horizontal("entry", "trained_at").alias("start"), pl.col("exit").alias("stop"), "event")
    return pl.concat([before, after]).filter(pl.col("stop") > pl.col("start")).with_columns(pl.col("start", "stop")
                                                                                              .cast(pl.Int64))


def fit(rows: pl.DataFrame):
    return SiteCox(rows, exposure="trained", site="site_id", start="start", stop="stop", event="event",
                   unit="user_id").fit()


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    return planted_rows()


def test_the_fit_equals_statsmodels_phreg(rows: pl.DataFrame) -> None:
    ours, reference = fit(rows), phreg(rows)
    np.testing.assert_allclose(ours.params, reference.params, atol=1e-8)
    np.testing.assert_allclose(ours.bse, reference.bse, rtol=1e-7)
    np.testing.assert_allclose(ours.conf_int(0.1), reference.conf_int(0.1), atol=1e-7)
    np.testing.assert_allclose(ours.pvalues, reference.pvalues, rtol=1e-6, atol=1e-12)
    assert ours.llf == pytest.approx(reference.llf, abs=1e-8)


def test_the_planted_ratio_is_recovered(rows: pl.DataFrame) -> None:
    results = fit(rows)
    low, high = results.hazard_ratio_conf_int()
    assert low < PLANTED_HAZARD_RATIO < high
    assert results.pvalues[0] < 0.01  # 0.6 is far from 1 with this many events
    assert results.param_names[:2] == ["trained", "site_id[s1]"]
    assert (results.n_units, results.n_events) == (3000, int(rows["event"].sum()))
    assert results.n_sites_compared == 6  # the two never-trained sites inform only the shape over time


def test_a_site_without_an_event_is_left_out_and_named(rows: pl.DataFrame) -> None:
    quiet_site = pl.DataFrame({"user_id": [9000, 9001], "site_id": ["s9", "s9"], "trained": [False, True],
                               "start": [0, 0], "stop": [20, 25], "event": [False, False]})
    with_quiet_site = fit(pl.concat([rows, quiet_site]))
    np.testing.assert_array_equal(with_quiet_site.params, fit(rows).params)
    assert with_quiet_site.sites_left_out == ["s9"]
    summary = with_quiet_site.summary()
    assert "1 site(s) left out, without an event: s9" in summary
    assert f"{with_quiet_site.n_events} events among 3000 units at 8 sites" in summary
    assert "6 site(s) hold both exposed and unexposed time" in summary


def test_no_fit_without_an_event_on_each_side_of_exposure(rows: pl.DataFrame) -> None:
    untrained_events_only = rows.with_columns(pl.col("event") & ~pl.col("trained"))
    with pytest.raises(MonotoneLikelihoodError):
        fit(untrained_events_only)


def test_inputs_are_checked_up_front(rows: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="missing column"):
        SiteCox(rows, exposure="is_trained", site="site_id", start="start", stop="stop", event="event")
    with pytest.raises(ValueError, match="whole periods"):
        fit(rows.with_columns(pl.col("stop").cast(pl.Float64)))
    with pytest.raises(ValueError, match="stop > start"):
        fit(rows.with_columns(pl.col("start").alias("stop")))
