"""Is a light user still "alive"? Buy-till-you-die models fitted by maximum likelihood.

Users with a handful of events give a rate test nothing to work with, so we score them
by the posterior probability that they are still using the product at all, from a
buy-till-you-die model fitted to every user's summary ``(x, t_x, T)``:

- ``x``: repeat events, i.e. distinct active periods after the first one;
- ``t_x``: time from the first to the last active period (0 when ``x == 0``);
- ``T``: time from the first active period to the end of calibration.

Three models, each a statsmodels ``GenericLikelihoodModel``:

- :class:`BGNBD`: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way".
- :class:`ModifiedBGNBD`: Batislam, Denizel & Filiztekin (2007). The product's default:
  plain BG/NBD cannot drop out a user who never came back, so it calls every ``x == 0``
  user alive.
- :class:`ParetoNBD`: Schmittlein, Morrison & Colombo (1987).

Parameters are optimised on the log scale (they must be positive) and reported on the
natural scale: standard errors by the delta method, intervals by exponentiating the
log-scale Wald interval (so they stay positive and are asymmetric).

:func:`summarize_events` turns a tidy event frame into the summary, and
:func:`select_dead_fdr` turns P(dead) into a list of users short enough to act on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import ClassVar, NamedTuple

import numpy as np
import pandas as pd
import polars as pl
from numpy.typing import ArrayLike, NDArray
from statsmodels.base.model import GenericLikelihoodModel, GenericLikelihoodModelResults
from statsmodels.iolib import summary2

from metrics.bg_nbd import (
    bg_nbd_loglikeobs,
    bg_nbd_p_alive,
    mbg_nbd_loglikeobs,
    mbg_nbd_p_alive,
)
from metrics.pareto_nbd import pareto_nbd_loglikeobs, pareto_nbd_p_alive

__all__ = [
    "BGNBD",
    "AliveResults",
    "DeadSelection",
    "ModifiedBGNBD",
    "ParetoNBD",
    "select_dead_fdr",
    "summarize_events",
]

SummaryFn = Callable[[tuple[float, ...], NDArray, NDArray, NDArray], NDArray]


def _validated_summary(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[NDArray, NDArray, NDArray]:
    """Check the summary statistics up front, so a bad row fails here, not as a NaN fit."""
    arrays = [np.asarray(v, dtype=float) for v in (x, t_x, T)]
    for name, values in zip(("x", "t_x", "T"), arrays, strict=True):
        if values.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            n_bad = int(np.sum(~np.isfinite(values)))
            raise ValueError(f"{name} has {n_bad} missing or infinite values")
    x, t_x, T = arrays
    if not len(x) == len(t_x) == len(T):
        raise ValueError(f"x, t_x and T differ in length: {len(x)}, {len(t_x)}, {len(T)}")
    checks = {
        "x must be a non-negative whole number": (x < 0) | (x != np.round(x)),
        "t_x must lie in [0, T]": (t_x < 0) | (t_x > T),
        "t_x must be 0 when x is 0": (x == 0) & (t_x != 0),
    }
    for message, bad in checks.items():
        if np.any(bad):
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{message}: {int(bad.sum())} rows fail, first at row {first} "
                f"(x={x[first]}, t_x={t_x[first]}, T={T[first]})"
            )
    return x, t_x, T


class _AliveModel(GenericLikelihoodModel):
    """Shared machinery: data, log-scale likelihood, fit. Subclasses name the model."""

    param_names: ClassVar[tuple[str, str, str, str]]
    _loglikeobs_natural: ClassVar[SummaryFn]
    _p_alive_natural: ClassVar[SummaryFn]

    def __init__(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None) -> None:
        """``weights``: how many users each row stands for. Summaries in whole weeks repeat
        a lot, so a million users fit as a few thousand distinct rows, exactly."""
        x, t_x, T = _validated_summary(x, t_x, T)
        self.t_x = t_x
        self.T = T
        self.weights = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
        super().__init__(x, extra_params_names=[f"log_{name}" for name in self.param_names])

    def loglikeobs(self, params: NDArray) -> NDArray:
        """Per-row log-likelihood at log-scale ``params`` (what the optimiser sees)."""
        return self.weights * self._loglikeobs_natural(tuple(np.exp(params)), self.endog, self.t_x, self.T)

    def fit(
        self,
        start_params: ArrayLike | None = None,
        method: str = "bfgs",
        maxiter: int = 1000,
        disp: bool = False,
        **kwargs,
    ) -> AliveResults:
        """Maximise the likelihood; ``start_params`` are natural-scale (default all 1).

        ``method`` (with ``kwargs``) runs the search from the start; Newton steps on the
        numerical Hessian then polish the optimum. The polish matters for Pareto/NBD,
        whose likelihood is so flat in ``beta`` that BFGS on numerical gradients stops
        about 1e-3 short of it, the precision at which published fits are reported.
        The search result stands when the polish cannot help: a singular Hessian (a
        parameter on its boundary, e.g. nobody ever drops out) or a lower likelihood.
        """
        start = np.ones(len(self.param_names)) if start_params is None else start_params
        search = super().fit(
            start_params=np.log(np.asarray(start, dtype=float)),
            method=method,
            maxiter=maxiter,
            disp=disp,
            **kwargs,
        )
        try:
            # Below a relative step of 1e-6 Newton only chases numerical-derivative noise.
            polished = super().fit(
                start_params=search.params, method="newton", maxiter=maxiter, disp=disp, tol=1e-6
            )
        except np.linalg.LinAlgError:
            return AliveResults(self, search)
        return AliveResults(self, polished if polished.llf >= search.llf else search)


class BGNBD(_AliveModel):
    """BG/NBD (Fader, Hardie & Lee 2005) on the summary ``(x, t_x, T)``.

    Parameters ``r, alpha`` (gamma heterogeneity of the event rate) and ``a, b`` (beta
    heterogeneity of the drop-out probability after each repeat event). Its P(alive) is
    1 for every user with ``x == 0``; use :class:`ModifiedBGNBD` to score those users.
    """

    param_names = ("r", "alpha", "a", "b")
    _loglikeobs_natural = staticmethod(bg_nbd_loglikeobs)
    _p_alive_natural = staticmethod(bg_nbd_p_alive)


class ModifiedBGNBD(_AliveModel):
    """Modified BG/NBD (Batislam, Denizel & Filiztekin 2007) on ``(x, t_x, T)``.

    As :class:`BGNBD`, but a user may also drop out right after the first event, so a
    user who never came back gets a P(alive) that falls as the silence grows.
    """

    param_names = ("r", "alpha", "a", "b")
    _loglikeobs_natural = staticmethod(mbg_nbd_loglikeobs)
    _p_alive_natural = staticmethod(mbg_nbd_p_alive)


class ParetoNBD(_AliveModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987) on ``(x, t_x, T)``.

    Parameters ``r, alpha`` (gamma heterogeneity of the event rate) and ``s, beta``
    (gamma heterogeneity of the exponential drop-out rate), in the time unit of the data.
    """

    param_names = ("r", "alpha", "s", "beta")
    _loglikeobs_natural = staticmethod(pareto_nbd_loglikeobs)
    _p_alive_natural = staticmethod(pareto_nbd_p_alive)


class AliveResults:
    """A fitted alive model, reported on the natural scale of its parameters.

    ``mle_results`` keeps statsmodels' own results on the log scale, where the
    optimisation and the Wald approximation happen.
    """

    def __init__(self, model: _AliveModel, mle_results: GenericLikelihoodModelResults) -> None:
        self.model = model
        self.mle_results = mle_results
        names = list(model.param_names)
        self.params = pd.Series(np.exp(mle_results.params), index=names, name="params")
        self.bse = pd.Series(self.params.to_numpy() * mle_results.bse, index=names, name="bse")
        self.llf = float(mle_results.llf)
        self.nobs = int(mle_results.nobs)
        self.aic = float(mle_results.aic)
        self.bic = float(mle_results.bic)
        self.converged = bool(mle_results.mle_retvals["converged"])

    def cov_params(self) -> pd.DataFrame:
        """Delta-method covariance of the natural-scale parameters."""
        jacobian = np.diag(self.params.to_numpy())
        cov = jacobian @ np.asarray(self.mle_results.cov_params()) @ jacobian
        return pd.DataFrame(cov, index=self.params.index, columns=self.params.index)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald interval on the log scale, exponentiated: positive, and wider upwards."""
        bounds = np.exp(self.mle_results.conf_int(alpha=alpha))
        return pd.DataFrame(bounds, index=self.params.index, columns=["lower", "upper"])

    def p_alive(
        self,
        x: ArrayLike | None = None,
        t_x: ArrayLike | None = None,
        T: ArrayLike | None = None,
    ) -> NDArray:
        """P(still alive at T | x, t_x, T) for each user; the fitted users by default."""
        if x is None and t_x is None and T is None:
            x, t_x, T = self.model.endog, self.model.t_x, self.model.T
        else:
            x, t_x, T = _validated_summary(x, t_x, T)
        return self.model._p_alive_natural(tuple(self.params), x, t_x, T)

    def summary(self, alpha: float = 0.05) -> summary2.Summary:
        """Fit statistics and the natural-scale parameter table, with the caveats."""
        interval = self.conf_int(alpha)
        table = pd.DataFrame(
            {
                "coef": self.params,
                "std err": self.bse,
                f"[{alpha / 2:g}": interval["lower"],
                f"{1 - alpha / 2:g}]": interval["upper"],
            }
        )
        smry = summary2.Summary()
        smry.add_title(f"{type(self.model).__name__} results")
        smry.add_dict(
            {
                "Users:": str(self.nobs),
                "Repeat events:": f"{self.model.endog.sum():.0f}",
                "Log-likelihood:": f"{self.llf:.4f}",
                "AIC:": f"{self.aic:.4f}",
                "BIC:": f"{self.bic:.4f}",
                "Converged:": str(self.converged),
            }
        )
        smry.add_df(table)
        smry.add_text(
            "Time is in the unit of t_x and T. Standard errors: delta method from the "
            "log-scale Hessian; intervals: exponentiated log-scale Wald intervals."
        )
        return smry


def summarize_events(
    events: pl.DataFrame | pl.LazyFrame,
    calibration_end: dt.date | dt.datetime | int,
    *,
    user_col: str = "user_id",
    time_col: str = "timestamp",
) -> pl.DataFrame:
    """One row per user: ``user_col, x, t_x, T`` from events up to ``calibration_end``.

    ``time_col`` holds either dates/datetimes (UTC) or an integer week index.

    - Dates and datetimes: an active period is a calendar day, and times are in weeks
      (days / 7), as in Fader, Hardie & Lee's CDNOW analysis, which counts several
      purchases on one day as one transaction. ``calibration_end`` is the last day
      included; T runs from the first day to it.
    - Week index: an active period is a week, times are in weeks, and
      ``calibration_end`` is the last week included.

    Users whose first event falls after ``calibration_end`` are absent: they were not
    yet users during calibration.
    """
    frame = events.lazy()
    schema = frame.collect_schema()
    missing = [col for col in (user_col, time_col) if col not in schema]
    if missing:
        raise ValueError(f"events lack the column(s) {missing}; they have {schema.names()}")
    period, end_period, periods_per_week = _period(schema[time_col], time_col, calibration_end)
    return (
        frame.select(pl.col(user_col), period.alias("period"))
        .filter(pl.col("period") <= end_period)
        .unique()
        .group_by(user_col)
        .agg(
            pl.col("period").min().alias("first"),
            pl.col("period").max().alias("last"),
            pl.len().alias("n_periods"),
        )
        .select(
            pl.col(user_col),
            (pl.col("n_periods") - 1).cast(pl.Int64).alias("x"),
            ((pl.col("last") - pl.col("first")) / periods_per_week).alias("t_x"),
            ((end_period - pl.col("first")) / periods_per_week).alias("T"),
        )
        .sort(user_col)
        .collect()
    )


def _period(
    dtype: pl.DataType, time_col: str, calibration_end: dt.date | dt.datetime | int
) -> tuple[pl.Expr, int, float]:
    """The integer active-period expression, the last period included, periods per week."""
    if dtype.is_integer():
        if isinstance(calibration_end, dt.date):
            raise TypeError(f"{time_col} is a week index, so calibration_end must be an int")
        return pl.col(time_col).cast(pl.Int64), int(calibration_end), 1.0
    if isinstance(dtype, (pl.Date, pl.Datetime)):
        if not isinstance(calibration_end, dt.date):  # a datetime is a date too
            raise TypeError(f"{time_col} holds dates, so calibration_end must be a date")
        day = pl.col(time_col)
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                day = day.dt.convert_time_zone("UTC")
            day = day.dt.date()
        if isinstance(calibration_end, dt.datetime):
            calibration_end = calibration_end.date()
        epoch_day = (calibration_end - dt.date(1970, 1, 1)).days
        return day.cast(pl.Int64), epoch_day, 7.0
    raise TypeError(f"{time_col} must be a date, a datetime or an integer week index, not {dtype}")


class DeadSelection(NamedTuple):
    """Users flagged as dead, with the error rates that justify the flag.

    - ``selected``: the flagged users.
    - ``lfdr``: each user's local false discovery rate, P(alive | data) = 1 - P(dead):
      the posterior chance that flagging this user is a mistake.
    - ``q_value``: the posterior expected share of mistakes in the smallest flagged
      list that includes this user; a user is flagged at level q iff q_value <= q.
    """

    selected: NDArray[np.bool_]
    lfdr: NDArray[np.float64]
    q_value: NDArray[np.float64]


def select_dead_fdr(p_dead: ArrayLike, q: float = 0.1) -> DeadSelection:
    """Flag the largest set of users whose mean P(alive) stays at or below ``q``.

    Bayesian false discovery control (Newton et al. 2004; Efron's local fdr): if we
    flag a set S as dead, the posterior expected number of wrong flags is the sum of
    P(alive) over S, so its mean is the posterior expected false discovery rate. Taking
    users in increasing P(alive) and stopping before the running mean exceeds ``q``
    gives the largest such set. Ties are taken in input order.
    """
    p_dead = np.asarray(p_dead, dtype=float)
    if p_dead.ndim != 1 or np.any(~np.isfinite(p_dead)) or np.any((p_dead < 0) | (p_dead > 1)):
        raise ValueError("p_dead must be a one-dimensional array of probabilities in [0, 1]")
    if not 0 < q < 1:
        raise ValueError(f"q must lie in (0, 1), got {q}")
    lfdr = 1.0 - p_dead
    order = np.argsort(lfdr, kind="stable")
    running_mean = np.cumsum(lfdr[order]) / np.arange(1, len(lfdr) + 1)
    q_value = np.empty_like(lfdr)
    # The running mean of sorted values never falls; accumulate guards against rounding.
    q_value[order] = np.maximum.accumulate(running_mean)
    return DeadSelection(selected=q_value <= q, lfdr=lfdr, q_value=q_value)
