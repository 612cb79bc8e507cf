"""The rate track: users with enough activity for a test against their own baseline.

Scan z-scores (see drop_scan) are calibrated against an empirical null fitted to the bulk
of users, because no parametric null is exact for a scan over windows of bursty counts;
Benjamini-Hochberg then turns the p-values into q-values, the false discovery rate of a
list cut at that user.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from scipy.stats import norm
from statsmodels.stats.multitest import NullDistribution, multipletests

from metrics.activity_matrix import activity_matrix
from metrics.calendar_factors import calendar_factors
from metrics.drop_scan import MAX_BASELINE, MAX_RECENT, make_signal, scan_for_drops

# The z range assumed to hold mostly users with no drop. Asymmetric: the scan's minimum is
# skewed left even under no change, and droppers' z-scores spill in from the left.
NULL_BOUNDS = (-1.0, 2.0)
MIN_USERS_FOR_EMPIRICAL_NULL = 200
LATELY_WEEKS = 4  # what "lately" means in a reason, for users whose use did not drop


def _calibrated_p(z: np.ndarray) -> np.ndarray:
    """One-sided p-values of z under the empirical null (the theoretical one for few users)."""
    tested = ~np.isnan(z)
    mean, sd = 0.0, 1.0
    if tested.sum() >= MIN_USERS_FOR_EMPIRICAL_NULL:
        null = NullDistribution(
            z[tested], null_lb=NULL_BOUNDS[0], null_ub=NULL_BOUNDS[1], estimate_mean=True, estimate_scale=True
        )
        mean, sd = float(null.mean), float(null.sd)
    return norm.cdf((z - mean) / sd)


def _bh(p: np.ndarray) -> np.ndarray:
    q = np.full(len(p), np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        q[tested] = multipletests(p[tested], method="fdr_bh")[1]
    return q


def rate_drops(user_weeks: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Per user: the most likely drop start, its size, and p and q for "use dropped"."""
    matrix = activity_matrix(user_weeks, as_of, MAX_RECENT + MAX_BASELINE)
    signals = [
        make_signal(matrix.events, calendar_factors(matrix, matrix.events), matrix),
        make_signal(matrix.active_days, calendar_factors(matrix, matrix.active_days), matrix),
    ]
    scan = scan_for_drops(matrix, signals)
    p_value = _calibrated_p(scan.z)
    lately = matrix.events.shape[1] - LATELY_WEEKS
    weeks_lately, weeks_usual = matrix.observed[:, lately:].sum(axis=1), matrix.observed[:, :lately].sum(axis=1)
    return pl.DataFrame(
        {
            "user_id": matrix.user_ids,
            "z": scan.z,
            "p_value": p_value,
            "q_value": _bh(p_value),
            "recent_weeks": scan.recent_weeks,
            "baseline_rate": scan.baseline_rate,
            "recent_rate": scan.recent_rate,
            "rate_ratio": scan.rate_ratio,
            "tail_ratio": scan.tail_ratio,
            "usual_rate": np.where(weeks_usual > 0, matrix.events[:, :lately].sum(axis=1) / np.maximum(weeks_usual, 1),
                                   np.nan),
            "lately_rate": np.where(weeks_lately > 0,
                                    matrix.events[:, lately:].sum(axis=1) / np.maximum(weeks_lately, 1), np.nan),
        }
    ).with_columns(
        pl.col(pl.Float64).fill_nan(None),
    ).with_columns(
        (pl.lit(as_of) - pl.duration(weeks=pl.col("recent_weeks").cast(pl.Int64) - 1)).alias("drop_week"),
    ).drop("recent_weeks")
