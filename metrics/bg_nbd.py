"""BG/NBD and modified BG/NBD: per-customer log-likelihood and P(alive).

Pure numpy/scipy functions of natural-scale parameters and the summary statistics
``x`` (repeat events), ``t_x`` (time of the last one, 0 if none) and ``T`` (time from
the first event to the end of calibration). Fitting lives in :mod:`metrics.alive_models`.

Both models let each user make events as a Poisson process with rate
``lambda ~ Gamma(r, alpha)`` and drop out with probability ``p ~ Beta(a, b)``.

- BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"):
  drop-out can happen only right after a repeat event, so a user with ``x = 0`` is
  alive for sure (P(alive) = 1), which is useless for light users.
- MBG/NBD (Batislam, Denizel & Filiztekin 2007): drop-out can also happen right after
  the first event, so a user who never came back can be scored as dead.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, gammaln

Params = tuple[float, float, float, float]


def _poisson_gamma_part(r: float, alpha: float, x: NDArray) -> NDArray:
    """log Gamma(r + x) alpha^r / Gamma(r): the NBD factor both likelihoods share."""
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha)


def bg_nbd_loglikeobs(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray:
    """Per-user log-likelihood of BG/NBD.

    L = B(a, b+x)/B(a, b) * NBD(T) + [x > 0] B(a+1, b+x-1)/B(a, b) * NBD(t_x),
    with NBD(t) = Gamma(r+x) alpha^r / (Gamma(r) (alpha+t)^(r+x)); the second term is the
    chance the user dropped out right after the last event, combined in log space.
    """
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    log_beta_ratio = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    log_alive_term = -(r + x) * np.log(alpha + T)
    has_repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_dead_term = np.where(
            has_repeat,
            np.log(a) - np.log(b + x - 1.0) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return (
        _poisson_gamma_part(r, alpha, x)
        + log_beta_ratio
        + np.logaddexp(log_alive_term, log_dead_term)
    )


def bg_nbd_p_alive(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray:
    """P(alive at T | x, t_x, T) under BG/NBD (FHL 2005); 1 whenever x = 0."""
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds_dead = (
            np.log(a) - np.log(b + x - 1.0) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def mbg_nbd_loglikeobs(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray:
    """Per-user log-likelihood of the modified BG/NBD (Batislam et al. 2007).

    L = B(a, b+x+1)/B(a, b) * NBD(T) + B(a+1, b+x)/B(a, b) * NBD(t_x): as BG/NBD, but
    the drop-out term exists for every user, including those with x = 0.
    """
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    log_beta_ratio = gammaln(a + b) + gammaln(b + x + 1.0) - gammaln(b) - gammaln(a + b + x + 1.0)
    log_alive_term = -(r + x) * np.log(alpha + T)
    log_dead_term = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
    return (
        _poisson_gamma_part(r, alpha, x)
        + log_beta_ratio
        + np.logaddexp(log_alive_term, log_dead_term)
    )


def mbg_nbd_p_alive(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray:
    """P(alive at T | x, t_x, T) under MBG/NBD (Batislam et al. 2007).

    1 / (1 + a/(b+x) * ((alpha+T)/(alpha+t_x))^(r+x)): the odds of having dropped out
    grow with the silence T - t_x, also for users who never came back.
    """
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    log_odds_dead = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return expit(-log_odds_dead)
