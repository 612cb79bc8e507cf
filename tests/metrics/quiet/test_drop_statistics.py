"""The drop test's statistic against independent implementations, and on tiny histories."""
from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import norm, power_divergence
from statsmodels.stats import rates

from metrics.quiet.activity_matrix import ActivityMatrix
from metrics.quiet.calendar_factors import signal_factors, site_blocks
from metrics.quiet.drop_scan import signals, signed_root_deviance
from metrics.quiet.rate_drops import site_weights


def test_squared_z_is_the_g_test_statistic() -> None:
    rng = np.random.default_rng(3)
    recent, baseline = rng.integers(0, 60, 200).astype(float), rng.integers(1, 300, 200).astype(float)
    share = rng.uniform(0.05, 0.5, 200)
    z = signed_root_deviance(recent, baseline, share)
    total = recent + baseline
    for i in range(200):
        g, _ = power_divergence(
            [recent[i], baseline[i]], [total[i] * share[i], total[i] * (1 - share[i])], lambda_="log-likelihood"
        )
        assert np.isclose(z[i] ** 2, g)
        assert np.sign(z[i]) == np.sign(recent[i] - total[i] * share[i]) or np.isclose(g, 0)


def test_agrees_with_the_exact_conditional_poisson_test() -> None:
    # (recent events over 4 weeks, baseline events over 26 weeks): a stop, a fade, a wobble
    for recent, baseline in [(4, 260), (12, 260), (30, 260)]:
        z = signed_root_deviance(np.array([float(recent)]), np.array([float(baseline)]), np.array([4 / 30]))[0]
        exact = rates.test_poisson_2indep(recent, 4, baseline, 26, method="exact-cond", alternative="smaller").pvalue
        assert abs(np.log10(norm.cdf(z)) - np.log10(exact)) < 1.0  # the same evidence, LR against exact


def test_no_change_gives_z_near_zero() -> None:
    assert abs(signed_root_deviance(np.array([40.0]), np.array([260.0]), np.array([40 / 300]))[0]) < 1e-9


def test_site_weights_favour_sites_where_others_dropped() -> None:
    site = np.repeat([0, 1], 10)
    suspect = np.zeros(20, bool)
    suspect[:5] = True  # half of site 0 dropped in the first pass, nobody at site 1
    tested = np.ones(20, bool)
    weights = site_weights(site, suspect, tested)
    assert np.isclose(weights.mean(), 1.0)  # weighted BH controls the FDR only if they average 1
    assert weights[5] > 1.0 > weights[10]
    assert weights[0] < weights[5]  # leave-one-out: a user's own drop does not lift their weight
    assert np.allclose(site_weights(site, np.zeros(20, bool), tested), 1.0)  # no drops anywhere: plain BH


def test_a_week_nobody_informs_still_expects_something() -> None:
    """Second pass on a small history: in week 3 the only users who used it are likely drops, left
    out of the factors. A user active then must get a finite calendar-adjusted count, not events / 0."""
    events = np.array([[5, 4, 6, 3, 5, 4], [2, 3, 2, 0, 3, 2], [0, 0, 0, 7, 0, 0]], dtype=np.float32)
    matrix = ActivityMatrix(user_ids=pl.Series(["a", "b", "c"]), site_codes=np.zeros(3, dtype=np.int64),
                            site_ids=np.array(["s"]), events=events, observed=np.ones(events.shape, dtype=bool))
    informs = matrix.observed.copy()
    informs[2, :] = False  # user c, a likely drop: nothing learnt from them
    informs[0, 3] = informs[1, 3] = False  # a and b dropped by week 3 too: nobody informs it
    blocks = site_blocks(matrix)
    factors = signal_factors(blocks, events, informs)
    assert all(np.isfinite(f).all() and (f > 0).all() for f in factors)
    with np.errstate(all="raise"):
        adjusted = signals(matrix, *factors).inputs(np.arange(3))
    assert np.isfinite(adjusted.work.adjusted).all()
