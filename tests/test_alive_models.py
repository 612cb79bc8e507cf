"""Alive models against published fits, direct integration, and planted truth.

- BG/NBD and Pareto/NBD on the CDNOW sample must reproduce the published estimates
  (tests/data/cdnow/README.md) to 3 decimals.
- MBG/NBD has no published fit on these data, and CDNOW's Pareto/NBD optimum only
  exercises the alpha < beta branch, so the closed forms are also checked against
  numerical integration of the individual-level model over its mixing distributions.
- Simulated populations with known parameters check recovery, and that P(alive) ranks
  the users who really dropped out below those who did not.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats
from scipy.special import betaln

from metrics.alive_models import (
    BGNBD,
    ModifiedBGNBD,
    ParetoNBD,
    select_dead_fdr,
    summarize_events,
)
from metrics.bg_nbd import bg_nbd_p_alive, mbg_nbd_loglikeobs, mbg_nbd_p_alive
from metrics.pareto_nbd import pareto_nbd_loglikeobs, pareto_nbd_p_alive

CDNOW = Path(__file__).parent / "data" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = dt.date(1997, 9, 30)


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    """The CDNOW calibration summary: one row per customer."""
    rows = np.loadtxt(CDNOW, dtype=str, usecols=(1, 2))
    events = pl.DataFrame({"user_id": rows[:, 0], "timestamp": rows[:, 1]}).with_columns(
        pl.col("timestamp").str.strptime(pl.Date, "%Y%m%d")
    )
    return summarize_events(events, CALIBRATION_END)


def test_cdnow_summary_matches_the_published_calibration_data(cdnow: pl.DataFrame) -> None:
    assert cdnow.height == 2357
    assert cdnow["x"].sum() == 2457  # distinct purchase days; 2603 counting every row
    # Customer 0001 bought on 1997-01-01, 01-18 and 08-02: 2 repeats, last 213 days in,
    # 272 days from the first purchase to 1997-09-30.
    first = cdnow.row(0, named=True)
    assert (first["user_id"], first["x"]) == ("0001", 2)
    assert first["t_x"] == pytest.approx(213 / 7)
    assert first["T"] == pytest.approx(272 / 7)


@pytest.mark.parametrize(
    ("model", "published", "published_llf"),
    [
        # Fader, Hardie & Lee (2005), BG/NBD on CDNOW.
        (BGNBD, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
        # Pareto/NBD on the same calibration data, the benchmark FHL (2005) compare with.
        (ParetoNBD, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9595.0),
    ],
)
def test_fit_reproduces_published_cdnow_estimates(
    cdnow: pl.DataFrame, model: type, published: dict[str, float], published_llf: float
) -> None:
    results = model(cdnow["x"], cdnow["t_x"], cdnow["T"]).fit()
    assert results.converged
    for name, value in published.items():
        assert results.params[name] == pytest.approx(value, abs=0.0005), name
    assert results.llf == pytest.approx(published_llf, abs=0.05)
    interval = results.conf_int()
    assert (results.bse > 0).all()
    assert ((interval["lower"] < results.params) & (results.params < interval["upper"])).all()
    assert "alpha" in results.summary().as_text()


def test_only_the_modified_model_can_call_a_one_time_user_dead() -> None:
    x, t_x, T = np.zeros(3), np.zeros(3), np.array([1.0, 20.0, 39.0])
    published_bg_nbd = (0.243, 4.414, 0.793, 2.426)
    np.testing.assert_array_equal(bg_nbd_p_alive(published_bg_nbd, x, t_x, T), 1.0)
    cdnow_mbg_nbd = (0.525, 6.183, 0.891, 1.614)  # our fit to the CDNOW sample
    p_alive = mbg_nbd_p_alive(cdnow_mbg_nbd, x, t_x, T)
    assert np.all(np.diff(p_alive) < 0)  # a longer silence since the only event
    assert p_alive[-1] < 0.5  # 39 silent weeks: more likely gone than not


def _gamma_pdf(shape: float, rate: float) -> Callable[[float], float]:
    """Gamma density by hand: scipy.stats' per-call overhead makes dblquad take minutes."""
    log_norm = shape * math.log(rate) - math.lgamma(shape)
    return lambda v: math.exp(log_norm + (shape - 1) * math.log(v) - rate * v) if v > 0 else 0.0


def _beta_pdf(a: float, b: float) -> Callable[[float], float]:
    log_norm = -float(betaln(a, b))

    def pdf(v: float) -> float:
        if not 0 < v < 1:
            return 0.0
        return math.exp(log_norm + (a - 1) * math.log(v) + (b - 1) * math.log1p(-v))

    return pdf


SUMMARIES = [(0, 0.0, 30.0), (3, 12.5, 30.0), (7, 29.0, 30.0)]


@pytest.mark.parametrize(
    "params",
    [(1.5, 4.0, 1.2, 9.0), (1.5, 9.0, 1.2, 4.0)],
    ids=["alpha<beta", "alpha>beta"],
)
@pytest.mark.parametrize(("x", "t_x", "T"), SUMMARIES)
def test_pareto_nbd_closed_form_matches_direct_integration(
    params: tuple, x: int, t_x: float, T: float
) -> None:
    """Integrate L(lambda, mu | x, t_x, T) over the two gamma mixing distributions."""
    r, alpha, s, beta = params
    f_lambda, f_mu = _gamma_pdf(r, alpha), _gamma_pdf(s, beta)

    def alive(mu: float, lam: float) -> float:  # still alive at T
        return lam**x * np.exp(-(lam + mu) * T) * f_lambda(lam) * f_mu(mu)

    def died(mu: float, lam: float) -> float:  # died between t_x and T
        dying = mu / (lam + mu) * (np.exp(-(lam + mu) * t_x) - np.exp(-(lam + mu) * T))
        return lam**x * dying * f_lambda(lam) * f_mu(mu)

    alive_mass = _double_integral(alive, upper=np.inf)
    total = alive_mass + _double_integral(died, upper=np.inf)
    summary = ([x], [t_x], [T])
    assert pareto_nbd_loglikeobs(params, *summary)[0] == pytest.approx(np.log(total), abs=1e-6)
    assert pareto_nbd_p_alive(params, *summary)[0] == pytest.approx(alive_mass / total, abs=1e-6)


@pytest.mark.parametrize(("x", "t_x", "T"), SUMMARIES)
def test_mbg_nbd_closed_form_matches_direct_integration(x: int, t_x: float, T: float) -> None:
    """Integrate the MBG/NBD individual likelihood over the gamma and beta mixing."""
    r, alpha, a, b = params = (1.5, 4.0, 1.5, 3.0)
    f_lambda, f_p = _gamma_pdf(r, alpha), _beta_pdf(a, b)

    def alive(p: float, lam: float) -> float:  # survived the first event and every repeat
        return lam**x * (1 - p) ** (x + 1) * np.exp(-lam * T) * f_lambda(lam) * f_p(p)

    def died(p: float, lam: float) -> float:  # dropped out right after the last event
        return lam**x * (1 - p) ** x * p * np.exp(-lam * t_x) * f_lambda(lam) * f_p(p)

    alive_mass = _double_integral(alive, upper=1.0)
    total = alive_mass + _double_integral(died, upper=1.0)
    summary = ([x], [t_x], [T])
    assert mbg_nbd_loglikeobs(params, *summary)[0] == pytest.approx(np.log(total), abs=1e-6)
    assert mbg_nbd_p_alive(params, *summary)[0] == pytest.approx(alive_mass / total, abs=1e-6)


def _double_integral(f, upper: float) -> float:
    """Integral of f(y, lam) over lam in (0, inf), y in (0, upper), to relative 1e-9.

    Relative, not absolute, precision: these likelihoods are far below 1.
    """
    return integrate.dblquad(f, 0, np.inf, 0, upper, epsabs=0, epsrel=1e-9)[0]


def test_pareto_nbd_stays_finite_for_heavy_users() -> None:
    # The lifetimes package's overflow case, plus a user with 5,000 repeat events.
    params = (10.465, 7.98565181e-03, 3.0516, 2.820)
    x = np.array([400.0, 500, 500, 5000])
    t_x = np.array([5.0, 1, 4, 1])
    T = np.array([6.0, 37, 37, 37])
    assert np.all(np.isfinite(pareto_nbd_loglikeobs(params, x, t_x, T)))
    p_alive = pareto_nbd_p_alive(params, x, t_x, T)
    assert np.all((p_alive >= 0) & (p_alive <= 1))


def _simulate_pareto_nbd(rng: np.random.Generator, n: int, params: tuple) -> tuple:
    """Users with Poisson(lambda) events until an Exp(mu) death; ages 26-52 weeks."""
    r, alpha, s, beta = params
    T = rng.uniform(26, 52, n)
    rate = rng.gamma(r, 1 / alpha, n)
    lifetime = rng.exponential(1 / rng.gamma(s, 1 / beta, n))
    observed = np.minimum(lifetime, T)
    x = rng.poisson(rate * observed)
    # The last of x uniform event times on [0, observed] is observed * Beta(x, 1).
    t_x = np.where(x > 0, observed * rng.beta(np.maximum(x, 1), 1), 0.0)
    return x, t_x, T, lifetime > T


def _simulate_mbg_nbd(rng: np.random.Generator, n: int, params: tuple) -> tuple:
    """Users who drop out with probability p at the first event and after each repeat."""
    r, alpha, a, b = params
    T = rng.uniform(26, 52, n)
    rate = rng.gamma(r, 1 / alpha, n)
    repeats_before_dropout = rng.geometric(rng.beta(a, b, n)) - 1
    repeats_if_immortal = rng.poisson(rate * T)
    x = np.minimum(repeats_before_dropout, repeats_if_immortal)
    # The x-th of n uniform event times on [0, T] is T * Beta(x, n - x + 1).
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), repeats_if_immortal - x + 1), 0.0)
    return x, t_x, T, repeats_if_immortal < repeats_before_dropout


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    u = stats.mannwhitneyu(score[positive], score[~positive]).statistic
    return u / (positive.sum() * (~positive).sum())


@pytest.mark.parametrize(
    ("model", "simulate", "p_alive", "truth"),
    [
        (ParetoNBD, _simulate_pareto_nbd, pareto_nbd_p_alive, (0.8, 8.0, 0.5, 12.0)),
        (ModifiedBGNBD, _simulate_mbg_nbd, mbg_nbd_p_alive, (1.0, 4.0, 0.5, 3.0)),
    ],
    ids=["pareto_nbd", "mbg_nbd"],
)
def test_fit_recovers_planted_parameters_and_ranks_the_dead_first(
    model: type, simulate, p_alive, truth: tuple
) -> None:
    truth = np.asarray(truth)
    x, t_x, T, alive = simulate(np.random.default_rng(2005), 4000, truth)
    results = model(x, t_x, T).fit()
    assert results.converged

    # The truth lies in each 99% interval (over 20 seeds: 19 of 20 for all four at once).
    interval = results.conf_int(alpha=0.01)
    assert np.all((interval["lower"] < truth) & (interval["upper"] > truth))
    # The event-rate parameters are well identified: within 15% (worst of 20 seeds: 13%).
    np.testing.assert_allclose(results.params.iloc[:2], truth[:2], rtol=0.15)

    fitted = results.p_alive()
    assert _auc(fitted, alive) > 0.75
    assert _auc(fitted, alive) == pytest.approx(_auc(p_alive(truth, x, t_x, T), alive), abs=0.01)

    # The flagged list's realised share of users who are in fact alive is near q = 0.1
    # (binomial spread over a few hundred flags is about 0.015).
    selection = select_dead_fdr(1 - fitted, q=0.1)
    assert alive[selection.selected].mean() < 0.15


def test_dead_selection_keeps_mean_p_alive_within_q() -> None:
    p_dead = np.array([0.99, 0.5, 0.95, 0.8, 0.9, 0.2])
    selection = select_dead_fdr(p_dead, q=0.1)
    # In order of P(alive): 0.01, 0.05, 0.10, 0.20 keep the running mean at 0.09; adding
    # 0.50 would lift it to 0.172 > 0.1. So the four most likely dead users are flagged.
    np.testing.assert_array_equal(selection.selected, [True, False, True, True, True, False])
    np.testing.assert_allclose(selection.lfdr, 1 - p_dead)
    expected_q = [0.01, 0.172, 0.03, 0.09, 0.0533333, 0.2766667]  # running means, by rank
    np.testing.assert_allclose(selection.q_value, expected_q, atol=1e-6)
    assert selection.lfdr[selection.selected].mean() <= 0.1

    rng = np.random.default_rng(7)
    many = rng.beta(2, 1, 5000)
    for q in (0.01, 0.05, 0.1, 0.2):
        chosen = select_dead_fdr(many, q=q).selected
        assert (1 - many[chosen]).mean() <= q
        # The largest such set: adding the next most likely dead user would break q.
        next_best = np.max(many[~chosen])
        assert (np.sum(1 - many[chosen]) + 1 - next_best) / (chosen.sum() + 1) > q


def test_summarize_events_counts_distinct_days_up_to_calibration_end() -> None:
    events = pl.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u1", "u2", "u3"],
            "timestamp": [
                dt.datetime(2024, 1, 1, 9),
                dt.datetime(2024, 1, 1, 17),  # same day as the first: not a repeat
                dt.datetime(2024, 1, 15, 8),  # repeat, 14 days in
                dt.datetime(2024, 3, 1, 8),  # after calibration end: ignored
                dt.datetime(2024, 1, 29, 8),  # u2's only event, on the last day
                dt.datetime(2024, 2, 5, 8),  # u3 starts after calibration: absent
            ],
        }
    )
    summary = summarize_events(events, dt.date(2024, 1, 29))
    assert summary.to_dicts() == [
        {"user_id": "u1", "x": 1, "t_x": 2.0, "T": 4.0},
        {"user_id": "u2", "x": 0, "t_x": 0.0, "T": 0.0},
    ]


def test_summarize_events_accepts_a_week_index() -> None:
    events = pl.LazyFrame({"user_id": ["a", "a", "a", "b"], "week": [3, 3, 5, 9]})
    summary = summarize_events(events, 10, time_col="week")
    # a: weeks 3 and 5 -> one repeat two weeks in, 7 weeks old; b: one week, 1 week old.
    assert summary.rows() == [("a", 1, 2.0, 7.0), ("b", 0, 0.0, 1.0)]


@pytest.mark.parametrize(
    ("x", "t_x", "T", "message"),
    [
        ([1, 2], [1.0, 2.0], [3.0], "differ in length"),
        ([1.5], [1.0], [3.0], "whole number"),
        ([1], [4.0], [3.0], r"t_x must lie in \[0, T\]"),
        ([0], [1.0], [3.0], "t_x must be 0 when x is 0"),
        ([1], [np.nan], [3.0], "missing or infinite"),
    ],
)
def test_models_reject_impossible_summaries(x, t_x, T, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModifiedBGNBD(x, t_x, T)


def test_distinct_summaries_with_counts_fit_as_every_user() -> None:
    # summaries in whole weeks repeat: the light track fits the distinct ones, weighted
    x, t_x, T, _ = _simulate_mbg_nbd(np.random.default_rng(7), 3000, np.array([1.0, 4.0, 0.5, 3.0]))
    t_x, T = np.floor(t_x), np.ceil(T)
    every = ModifiedBGNBD(x, t_x, T).fit()
    distinct, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    assert len(distinct) < 0.7 * len(x)
    weighted = ModifiedBGNBD(*distinct.T, weights=counts).fit()
    np.testing.assert_allclose(weighted.params, every.params, rtol=1e-4)
    assert weighted.llf == pytest.approx(every.llf, rel=1e-9)
    np.testing.assert_allclose(weighted.p_alive(x, t_x, T), every.p_alive(x, t_x, T), atol=1e-5)
