"""Pareto/NBD: per-customer log-likelihood and P(alive).

Pure numpy/scipy functions of the natural-scale parameters ``(r, alpha, s, beta)`` and
the summary statistics ``x``, ``t_x``, ``T`` (see :mod:`metrics.bg_nbd`). Fitting lives
in :mod:`metrics.alive_models`.

Each user makes events as a Poisson process with rate ``lambda ~ Gamma(r, alpha)`` and
lives for an exponential time with rate ``mu ~ Gamma(s, beta)`` (Schmittlein, Morrison &
Colombo 1987). We use the likelihood as written in Fader & Hardie (2005), "A Note on
Deriving the Pareto/NBD Model and Related Expressions":

    L = Gamma(r+x) alpha^r beta^s / Gamma(r)
        * [ 1 / ((alpha+T)^(r+x) (beta+T)^s) + s / (r+s+x) * A_0 ]

where A_0 is a difference of two Gaussian hypergeometric terms (see ``_log_a0``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, gammaln, hyp2f1

Params = tuple[float, float, float, float]


def _log_a0(params: Params, x: NDArray, t_x: NDArray, T: NDArray) -> NDArray:
    """log A_0 of Fader & Hardie (2005), computed without cancellation or overflow.

    A_0 = F(t_x) - F(T), with F(t) = 2F1(r+s+x, b; r+s+x+1; |alpha-beta| / (m+t)) / (m+t)^(r+s+x),
    m = max(alpha, beta), and b = s+1 if alpha >= beta else r+x. Choosing the branch by
    the larger of alpha and beta keeps the argument z in [0, 1), where the series
    converges (the approach of the `lifetimes` package's ``_log_A_0``).

    Two further steps keep it finite for heavy users. 2F1 grows like (1-z)^(1-b), which
    overflows once b = r+x is in the hundreds, so we use Euler's transformation
    2F1(a, b; a+1; z) = (1-z)^(1-b) 2F1(1, a+1-b; a+1; z) and keep the growing factor in
    log space. The difference is taken as log F(t_x) + log(1 - F(T)/F(t_x)), the
    two-term logsumexp with signs +1, -1; it is -inf when t_x == T (the last event fell
    on the last day), so that term drops out.
    """
    r, alpha, s, beta = params
    rsx = r + s + x
    largest = max(alpha, beta)
    b = s + 1.0 if alpha >= beta else r + x
    gap = abs(alpha - beta)

    def log_f(t: NDArray) -> NDArray:
        z = gap / (largest + t)
        log_2f1 = (1.0 - b) * np.log1p(-z) + np.log(hyp2f1(1.0, rsx + 1.0 - b, rsx + 1.0, z))
        return log_2f1 - rsx * np.log(largest + t)

    log_f_tx, log_f_T = log_f(t_x), log_f(T)
    with np.errstate(divide="ignore"):
        return log_f_tx + np.log(-np.expm1(np.minimum(log_f_T - log_f_tx, 0.0)))


def pareto_nbd_loglikeobs(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray:
    """Per-user log-likelihood of Pareto/NBD (Fader & Hardie 2005 note)."""
    r, alpha, s, beta = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    log_front = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_alive_term = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_dead_term = np.log(s) - np.log(r + s + x) + _log_a0(params, x, t_x, T)
    return log_front + np.logaddexp(log_alive_term, log_dead_term)


def pareto_nbd_p_alive(params: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray:
    """P(alive at T | x, t_x, T) under Pareto/NBD (Fader & Hardie 2005 note).

    1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A_0): the likelihood share of the
    "still alive at T" branch, computed as a logistic of the log odds of having died.
    """
    r, alpha, s, beta = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    log_odds_dead = (
        np.log(s)
        - np.log(r + s + x)
        + (r + x) * np.log(alpha + T)
        + s * np.log(beta + T)
        + _log_a0(params, x, t_x, T)
    )
    return expit(-log_odds_dead)
