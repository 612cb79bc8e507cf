"""The rate track: users with enough activity for a test against their own baseline.

No parametric null is exact for the lowest of many z-scores over windows of bursty counts,
so the scan's z is calibrated by permutation: the same scan over histories made by shuffling
users' own weeks (no change, yet just as bursty and as often idle) gives the null
distribution. Benjamini-Hochberg, weighted by how common drops are at the user's
site, then turns the p-values into q-values, the false discovery rate of a list cut at
that user.

Two passes: a site where many users dropped looks, week by week, like a site-wide dip, and
calendar factors learnt from it would excuse those very drops. The first pass finds likely
drops; the second learns the factors without those users' weeks since their drop.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from statsmodels.stats.multitest import multipletests

from metrics.quiet.active_history import WeeklyHistory
from metrics.quiet.activity_matrix import ActivityMatrix, activity_matrix
from metrics.quiet.blocks import BLOCK_USERS, each, ranges
from metrics.quiet.calendar_factors import SiteBlocks, signal_factors, site_blocks
from metrics.quiet.drop_scan import MAX_BASELINE, MAX_RECENT, MIN_RECENT_WEEKS, DropScan, Signals, scan_for_drops, signals

SUSPECT_Q, SUSPECT_RATIO = 0.2, 0.5  # first-pass drops left out of the calendar factors
PRIOR_USERS = 10.0  # a site's share of drops is shrunk towards the portfolio's with this many users
# shuffled histories in the permutation null: 40 per user tested, so p-values resolve well below
# the q/m that Benjamini-Hochberg asks of the strongest user, between these bounds
NULL_DRAWS_PER_USER, MIN_NULL_DRAWS, MAX_NULL_DRAWS, NULL_SEED = 40, 2_000, 25_000, 0
# the first pass only sorts out likely drops (q <= SUSPECT_Q, a loose cut) to keep them out of the
# calendar factors: a coarser null serves, at a fifth of the cost
FIRST_PASS_DRAWS = 10_000
LATELY_WEEKS = 4  # what "lately" means in a reason, for users whose use did not drop


def _bh(p: np.ndarray) -> np.ndarray:
    q = np.full(len(p), np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        q[tested] = multipletests(p[tested], method="fdr_bh")[1]
    return q


def site_weights(site_codes: np.ndarray, suspect: np.ndarray, tested: np.ndarray) -> np.ndarray:
    """Per user, the weight of their p-value in a weighted Benjamini-Hochberg (Genovese, Roeder &
    Wasserman 2006): the odds of a drop at their site, from the first pass's share of likely
    drops among the site's other tested users (leave-one-out, so no user lifts their own
    weight), shrunk towards the portfolio; averaging 1 over tested users, as FDR control needs.
    Drops come in clusters, at sites that struggle; a site where nobody dropped asks for more
    evidence."""
    n_sites = int(site_codes.max()) + 1 if len(site_codes) else 0
    n = np.bincount(site_codes[tested], minlength=n_sites).astype(float)
    k = np.bincount(site_codes[tested], weights=suspect[tested].astype(float), minlength=n_sites)
    overall = k.sum() / max(n.sum(), 1.0)
    others_suspect = k[site_codes] - (suspect & tested)
    others = n[site_codes] - tested
    share = np.minimum((others_suspect + PRIOR_USERS * overall) / (others + PRIOR_USERS), 0.99)
    odds = share / (1.0 - share)
    return odds / odds[tested].mean() if tested.any() and odds[tested].mean() > 0 else np.ones(len(site_codes))


def _signals(matrix: ActivityMatrix, blocks: SiteBlocks, informs: np.ndarray) -> Signals:
    """The scan's signals, with calendar factors learnt from the `informs` cells only."""
    return signals(matrix, *signal_factors(blocks, matrix.events, informs))


def _permutation_p(z: np.ndarray, signals: Signals, users: np.ndarray, max_draws: int) -> np.ndarray:
    """One-sided p-values of the z of `users` against the scan of their own weeks shuffled."""
    rng = np.random.default_rng(NULL_SEED)
    draws = int(np.clip(NULL_DRAWS_PER_USER * len(z), MIN_NULL_DRAWS, max_draws))
    rows = rng.integers(0, len(z), draws)
    keys = rng.random((draws, signals.matrix.events.shape[1]))  # drawn before the blocks, which run in any order
    null = scan_for_drops(lambda block: signals.inputs(users[rows[block]]).shuffled(keys[block]),
                          ranges(draws, BLOCK_USERS)).z
    null = np.sort(null[~np.isnan(null)])
    return np.where(np.isnan(z), np.nan, (1 + np.searchsorted(null, z, side="right")) / (1 + len(null)))


def _tested_users(matrix: ActivityMatrix, min_rate: float) -> np.ndarray:
    """Users with at least `min_rate` events per observed week before the last MIN_RECENT_WEEKS:
    the only ones whose baseline can carry a rate test. The others still inform the calendar."""
    before = matrix.events.shape[1] - MIN_RECENT_WEEKS
    weeks = matrix.observed[:, :before].sum(axis=1)
    return (weeks > 0) & (matrix.events[:, :before].sum(axis=1, dtype=np.float64) >= min_rate * np.maximum(weeks, 1))


def _scan_tested(signals: Signals, tested: np.ndarray, max_draws: int) -> tuple[DropScan, np.ndarray]:
    """The scan and permutation p-values of the tested users, nan for everyone else."""
    users = np.flatnonzero(tested)
    scan = scan_for_drops(signals.inputs, [users[block] for block in ranges(len(users), BLOCK_USERS)])
    p_value = _permutation_p(scan.z, signals, users, max_draws) if tested.any() else np.zeros(0)

    def spread(values: np.ndarray) -> np.ndarray:
        full = np.full(len(tested), np.nan)
        full[tested] = values
        return full

    return DropScan(**{name: spread(getattr(scan, name)) for name in DropScan.__dataclass_fields__}), spread(p_value)


def _without_drops(matrix: ActivityMatrix, suspect: np.ndarray, recent_weeks: np.ndarray) -> np.ndarray:
    """The cells the second pass learns the calendar from: every observed week but those of a likely
    drop since it began; a block of users at a time on every core."""
    n_weeks = matrix.events.shape[1]
    informs = np.empty_like(matrix.observed)

    def fill(users: slice) -> None:
        since_drop = np.arange(n_weeks)[None, :] >= (n_weeks - recent_weeks[users])[:, None]
        informs[users] = matrix.observed[users] & ~(suspect[users, None] & since_drop)

    list(each(fill, ranges(len(suspect), BLOCK_USERS)))
    return informs


def rate_drops(history: WeeklyHistory, as_of: date, min_rate: float) -> pl.DataFrame:
    """Per user of `history` (up to as_of): the most likely drop start, its size, and p and q for
    "use dropped"; users with under `min_rate` events a week are not tested (their weeks still
    shape the calendar factors)."""
    matrix = activity_matrix(history, as_of, MAX_RECENT + MAX_BASELINE)
    tested = _tested_users(matrix, min_rate)
    blocks = site_blocks(matrix)
    scan, p_first = _scan_tested(_signals(matrix, blocks, matrix.observed), tested, FIRST_PASS_DRAWS)
    suspect = (_bh(p_first) <= SUSPECT_Q) & (scan.rate_ratio <= SUSPECT_RATIO)
    scan, p_value = _scan_tested(_signals(matrix, blocks, _without_drops(matrix, suspect, scan.recent_weeks)), tested,
                                  MAX_NULL_DRAWS)
    lately = matrix.events.shape[1] - LATELY_WEEKS
    weeks_lately, weeks_usual = matrix.observed[:, lately:].sum(axis=1), matrix.observed[:, :lately].sum(axis=1)
    return pl.DataFrame(
        {
            "user_id": matrix.user_ids,
            "z": scan.z,
            "p_value": p_value,
            "q_value": _bh(np.minimum(p_value / site_weights(matrix.site_codes, suspect, ~np.isnan(p_value)), 1.0)),
            "recent_weeks": scan.recent_weeks,
            "baseline_rate": scan.baseline_rate,
            "recent_rate": scan.recent_rate,
            "rate_ratio": scan.rate_ratio,
            "tail_z": scan.tail_z,
            "usual_rate": np.where(weeks_usual > 0, matrix.events[:, :lately].sum(axis=1, dtype=np.float64)
                                   / np.maximum(weeks_usual, 1), np.nan),
            "lately_rate": np.where(weeks_lately > 0, matrix.events[:, lately:].sum(axis=1, dtype=np.float64)
                                    / np.maximum(weeks_lately, 1), np.nan),
        }
    ).with_columns(
        pl.col(pl.Float64).fill_nan(None),
    ).with_columns(
        (pl.lit(as_of) - pl.duration(weeks=pl.col("recent_weeks").cast(pl.Int64) - 1)).alias("drop_week"),
    ).drop("recent_weeks")
