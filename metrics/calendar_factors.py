"""How busy each site was each week, relative to normal, so a site-wide dip is not a drop.

The model is the two-way Poisson log-linear model E[events(u, w)] = rate(u) * factor(site(u), w),
fitted by iterative proportional fitting (the maximum-likelihood fit of that GLM without
building a users-by-parameters design matrix). A small site's factors are shrunk towards the
whole portfolio's factor for that week, so one user's holiday is not the site's.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from metrics.activity_matrix import BLOCK_USERS, ActivityMatrix

SHRINK_EVENTS = 25.0  # prior weight, in expected events, of the portfolio's weekly factor
ITERATIONS = 6  # the factors move by under 1e-4 after that (3e-4 after 5, 2e-10 after 15)


def _site_sums(site_codes: np.ndarray, weights: np.ndarray, cells: np.ndarray, n_sites: int) -> np.ndarray:
    """(sites, weeks): sum over each site's users of weight x cell, without a users x weeks temporary."""
    by_site = sparse.csr_matrix((weights, (site_codes, np.arange(len(site_codes)))), shape=(n_sites, len(site_codes)))
    return np.asarray(by_site @ cells)


def _exposure_per_user(factors: np.ndarray, site_codes: np.ndarray, informs: np.ndarray) -> np.ndarray:
    """sum over weeks of factor x informs, per user, a block of users at a time (small temporaries)."""
    return np.concatenate([
        np.einsum("uw,uw->u", informs[i:i + BLOCK_USERS], factors[site_codes[i:i + BLOCK_USERS]])
        for i in range(0, len(site_codes), BLOCK_USERS)
    ]) if len(site_codes) else np.zeros(0)


def calendar_factors(matrix: ActivityMatrix, counts: np.ndarray, informs: np.ndarray | None = None) -> np.ndarray:
    """(sites, weeks) factors for `counts` (events or active days), averaging 1 per site.

    `informs` (users x weeks) marks the cells the factors are learnt from; by default every
    observed week. Leaving out the weeks after a user's own drop keeps a site with many
    droppers from reading as a site-wide dip, which would excuse those very drops.
    """
    n_sites, codes = len(matrix.site_ids), matrix.site_codes
    cells = (matrix.observed if informs is None else informs).astype(float)
    learnt_from = counts * cells
    user_events = learnt_from.sum(axis=1)
    site_events = _site_sums(codes, np.ones(len(codes)), learnt_from, n_sites)
    portfolio_events = site_events.sum(axis=0)
    factors = np.ones((n_sites, counts.shape[1]))
    for _ in range(ITERATIONS):
        rate = user_events / np.maximum(_exposure_per_user(factors, codes, cells), 1e-12)
        expected = _site_sums(codes, rate, cells, n_sites)
        portfolio = portfolio_events / np.maximum(expected.sum(axis=0), 1e-12)
        factors = (site_events + SHRINK_EVENTS * portfolio) / (expected + SHRINK_EVENTS)
        weight = expected.sum(axis=1, keepdims=True)
        level = (factors * expected).sum(axis=1, keepdims=True) / np.maximum(weight, 1e-12)
        factors = factors / np.where(level > 0, level, 1.0)
    return factors
