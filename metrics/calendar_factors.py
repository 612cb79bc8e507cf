"""How busy each site was each week, relative to normal, so a site-wide dip is not a drop.

The model is the two-way Poisson log-linear model E[events(u, w)] = rate(u) * factor(site(u), w),
fitted by iterative proportional fitting (the maximum-likelihood fit of that GLM without
building a users-by-parameters design matrix). A small site's factors are shrunk towards the
whole portfolio's factor for that week, so one user's holiday is not the site's.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from metrics.activity_matrix import ActivityMatrix

SHRINK_EVENTS = 25.0  # prior weight, in expected events, of the portfolio's weekly factor
ITERATIONS = 15


def _site_sums(site_of_user: sparse.csr_matrix, values: np.ndarray) -> np.ndarray:
    return np.asarray(site_of_user @ values)


def calendar_factors(matrix: ActivityMatrix, counts: np.ndarray) -> np.ndarray:
    """(sites, weeks) factors for `counts` (events or active days), averaging 1 per site."""
    n_sites = len(matrix.site_ids)
    site_of_user = sparse.csr_matrix(
        (np.ones(matrix.n_users), (matrix.site_codes, np.arange(matrix.n_users))),
        shape=(n_sites, matrix.n_users),
    )
    observed = matrix.observed.astype(float)
    events = counts
    site_events = _site_sums(site_of_user, events)
    portfolio_events = site_events.sum(axis=0)
    factors = np.ones((n_sites, events.shape[1]))
    for _ in range(ITERATIONS):
        exposure = factors[matrix.site_codes] * observed
        rate = events.sum(axis=1) / np.maximum(exposure.sum(axis=1), 1e-12)
        expected = _site_sums(site_of_user, rate[:, None] * observed)
        portfolio = portfolio_events / np.maximum(expected.sum(axis=0), 1e-12)
        factors = (site_events + SHRINK_EVENTS * portfolio) / (expected + SHRINK_EVENTS)
        weight = expected.sum(axis=1, keepdims=True)
        level = (factors * expected).sum(axis=1, keepdims=True) / np.maximum(weight, 1e-12)
        factors = factors / np.where(level > 0, level, 1.0)
    return factors
