"""How busy each site was each week, relative to normal, so a site-wide dip is not a drop.

The model is the two-way Poisson log-linear model E[events(u, w)] = rate(u) * factor(site(u), w),
fitted by iterative proportional fitting (the maximum-likelihood fit of that GLM without
building a users-by-parameters design matrix). A small site's factors are shrunk towards the
whole portfolio's factor for that week, so one user's holiday is not the site's.

Users are taken in site order, a block of whole sites at a time (`SiteBlocks`): a site's sums
are then taken within one block, user by user in id order as they always were, every
temporary is a block's, and no users x weeks float array is ever made.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from metrics.quiet.activity_matrix import ActivityMatrix
from metrics.quiet.blocks import each

SHRINK_EVENTS = 25.0  # prior weight, in expected events, of the portfolio's weekly factor
ITERATIONS = 6  # the factors move by under 1e-4 after that (3e-4 after 5, 2e-10 after 15)
SITE_BLOCK_USERS = 4_096  # users a block of whole sites: small temporaries, which stay in malloc's arena (blocks.py)
# the least a week can expect: in a week when no user the factors learn from used it (the
# second pass leaves out likely drops, which on a small history can be everyone active that
# week), a user who did use it would otherwise be divided by zero
MIN_FACTOR = 0.01


@dataclass(frozen=True)
class SiteBlocks:
    """The users in site order (by id within a site), cut into blocks of whole sites."""

    order: np.ndarray  # users by site
    site_codes: np.ndarray  # (users,) in that order
    users: list[slice]  # each block's users: positions in `order`
    sites: list[slice]  # each block's sites

    def summing(self) -> list[sparse.csr_matrix]:
        """Per block, sites x users with a 1 at each user's site: the weights of a sum over each
        site's users (set in its `data`), which a product takes one user at a time in id order."""
        return [sparse.csr_matrix((np.ones(users.stop - users.start), (self.site_codes[users] - sites.start,
                                                                        np.arange(users.stop - users.start))),
                                  shape=(sites.stop - sites.start, users.stop - users.start))
                for users, sites in zip(self.users, self.sites)]


def site_blocks(matrix: ActivityMatrix) -> SiteBlocks:
    """The users in site order, in blocks of about SITE_BLOCK_USERS (a larger site is a block of its own)."""
    order = np.argsort(matrix.site_codes, kind="stable")
    codes = matrix.site_codes[order]
    site_ends = np.cumsum(np.bincount(codes, minlength=len(matrix.site_ids)))
    users, sites, first = [], [], 0
    while first < len(site_ends):
        start = int(site_ends[first - 1]) if first else 0
        end = min(max(int(np.searchsorted(site_ends, start + SITE_BLOCK_USERS, side="right")), first + 1), len(site_ends))
        users.append(slice(start, int(site_ends[end - 1])))
        sites.append(slice(first, end))
        first = end
    return SiteBlocks(order, codes, users or [slice(0, 0)], sites or [slice(0, 0)])


def signal_factors(blocks: SiteBlocks, events: np.ndarray, informs: np.ndarray) -> list[np.ndarray]:
    """The scan's three (sites, weeks) factors, from the cells `informs`: events, weeks with use,
    and events in the weeks with use, each averaging 1 per site.

    The cells are the user-weeks the factors are learnt from: leaving out the weeks after a
    user's own drop keeps a site with many droppers from reading as a site-wide dip, which
    would excuse those very drops. The first two are fitted together, from cells made and blocks
    read once for both. Events are never negative, so the events in the weeks with use are the
    events in all the cells: the third fit learns the first one's sums, taken once.
    """
    summing = blocks.summing()
    parts = range(len(summing))
    reuse = bool(events.min(initial=0) >= 0)  # (false for a nan, which `>` would drop)

    def learnt(part: int) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        rows = blocks.order[blocks.users[part]]
        block_events, cells = events[rows], informs[rows].astype(float)
        return cells, [(values.sum(axis=1), summing[part] @ values) for values in ((block_events * cells),
                                                                                   (block_events > 0) * cells)]

    def sums(blocked: list, fits: int) -> list[list[np.ndarray]]:
        return [[np.concatenate([part[1][fit][side] for part in blocked]) for fit in range(fits)] for side in (0, 1)]

    blocked = list(each(learnt, parts))
    (user_events, site_events), cells = sums(blocked, 2), [part[0] for part in blocked]
    del blocked
    factors = _fitted(blocks, summing, [cells, cells], user_events, site_events)
    del cells
    summing = blocks.summing()  # afresh: a fit leaves its last weights in the sums' `data`

    def in_use(part: int) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        rows = blocks.order[blocks.users[part]]
        block_events = events[rows]
        cells = (informs[rows] & (block_events > 0)).astype(float)
        return cells, [] if reuse else [((values := block_events * cells).sum(axis=1), summing[part] @ values)]

    blocked = list(each(in_use, parts))
    cells = [part[0] for part in blocked]
    (user_used, site_used) = ([user_events[0]], [site_events[0]]) if reuse else sums(blocked, 1)
    del blocked
    return factors + _fitted(blocks, summing, [cells], user_used, site_used)


def _fitted(blocks: SiteBlocks, summing: list[sparse.csr_matrix], cells: list[list[np.ndarray]],
            user_events: list[np.ndarray], site_events: list[np.ndarray]) -> list[np.ndarray]:
    """Iterative proportional fitting of each fit's factors, from its cells (per block) and the
    events each user and each site had in them."""
    parts = range(len(summing))
    factors = [np.ones(site.shape) for site in site_events]

    def expected_at(part: int) -> list[np.ndarray]:
        """The block's sites' expected counts: each user's rate x their cells, summed per site."""
        users, by_site = blocks.users[part], summing[part]
        expected = []
        for fit_factors, fit_events, fit_cells in zip(factors, user_events, cells):
            values = fit_cells[part]
            exposure = np.einsum("uw,uw->u", values, np.take(fit_factors, blocks.site_codes[users], axis=0))
            np.divide(fit_events[users], np.maximum(exposure, 1e-12), out=by_site.data)  # the block's own weights
            expected.append(by_site @ values)
        return expected

    for _ in range(ITERATIONS):
        expected = [np.concatenate(fit) for fit in zip(*each(expected_at, parts))]
        factors = [_step(site, fit) for site, fit in zip(site_events, expected)]
    return [np.maximum(fit, MIN_FACTOR) for fit in factors]


def _step(site_events: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """One iteration's factors, from the events each site had and expected, shrunk towards the portfolio."""
    portfolio = site_events.sum(axis=0) / np.maximum(expected.sum(axis=0), 1e-12)
    factors = (site_events + SHRINK_EVENTS * portfolio) / (expected + SHRINK_EVENTS)
    weight = expected.sum(axis=1, keepdims=True)
    level = (factors * expected).sum(axis=1, keepdims=True) / np.maximum(weight, 1e-12)
    return factors / np.where(level > 0, level, 1.0)
