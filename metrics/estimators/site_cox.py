"""A Cox proportional-hazards model of one 0/1 exposure with a term per site, fitted on
counts of who is at risk.

Why a term per site and not strata: with the clock in calendar periods, strata per site
would give each site its own baseline hazard, and when a whole site is exposed at once
(trained on one day) nothing would be left to compare. A term per site keeps each site's
level of risk while all share the calendar's shape, so the exposure's coefficient compares
a site's periods after exposure with its periods before, against the same periods at other
sites: a difference-in-differences on the hazard.

Why counts: the covariates are categorical (site, exposed), so the partial likelihood
depends on the rows only through how many are at risk and how many have the event, per
event period, site and exposure. Fitting on those is exact and takes a few thousand cells,
where a row-level fit (statsmodels' PHReg, the reference in the tests) costs rows x sites^2
per iteration.

Rows are in counting-process form: at risk in (start, stop], whole periods, ending in the
event or not. Ties are handled as Efron's. A site without an event is left out: its term
would run off to minus infinity, which is the same as leaving it out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

__all__ = ["MonotoneLikelihoodError", "SiteCox", "SiteCoxResults"]


class MonotoneLikelihoodError(ValueError):
    """The exposure's estimate would run off to 0 or infinity: no number to report."""


class SiteCox:
    """Cox model of `event` on `exposure` with a term per `site`, rows at risk in
    (`start`, `stop`]; `unit` (optional) names who a row belongs to, for the counts."""

    def __init__(self, data: pl.DataFrame, *, exposure: str, site: str, start: str, stop: str, event: str,
                 unit: str | None = None) -> None:
        names = [exposure, site, start, stop, event] + ([unit] if unit else [])
        missing = [name for name in names if name not in data.columns]
        _require(not missing, f"missing column(s): {', '.join(missing)}")
        for name in (exposure, event):
            _require(data.schema[name] == pl.Boolean, f"column {name!r} must be boolean, not {data.schema[name]}")
        for name in (start, stop):
            _require(data.schema[name].is_integer(), f"column {name!r} must hold whole periods, not {data.schema[name]}")
        _require(sum(data.select(names).null_count().row(0)) == 0, f"columns {', '.join(names)} must have no nulls")
        _require((data[stop] > data[start]).all(), f"every row needs {stop} > {start}")
        self.data = data
        self.exposure, self.site, self.start, self.stop, self.event, self.unit = exposure, site, start, stop, event, unit

    def fit(self, tol: float = 1e-10, max_iter: int = 100) -> SiteCoxResults:
        """Newton's method on the Efron partial likelihood, step halved while it overshoots.

        Raises MonotoneLikelihoodError when no site that holds both exposed and unexposed rows
        has an event on each side: the exposure's ratio would then run off to 0 or infinity.
        """
        with_events = self.data.filter(pl.col(self.event).any().over(self.site))
        switching = with_events.filter(pl.col(self.exposure).n_unique().over(self.site) == 2)
        if switching.filter(pl.col(self.event))[self.exposure].n_unique() < 2:
            raise MonotoneLikelihoodError("no site with both exposed and unexposed rows has an event on each side: "
                                          "the hazard ratio would run off to 0 or infinity")
        sites = with_events[self.site].unique().sort()
        terms, observed = _efron_terms(*self._risk_set_counts(with_events, sites))
        params = np.zeros(observed.shape[0])
        for _ in range(max_iter):
            score, information = _score_and_information(params, terms, observed)
            step = np.linalg.solve(information, score)
            before = _log_likelihood(params, terms, observed)
            while _log_likelihood(params + step, terms, observed) < before and np.abs(step).max() > tol:
                step /= 2  # far from the optimum a full Newton step can overshoot
            params = params + step
            if np.abs(step).max() < tol:
                break
        else:
            raise RuntimeError(f"the Cox model did not converge in {max_iter} iterations")
        covariance = np.linalg.solve(information, np.eye(params.size))
        all_sites = self.data[self.site].unique().sort()
        return SiteCoxResults(
            params=params,
            bse=np.sqrt(np.diag(covariance)),
            param_names=[self.exposure, *(f"{self.site}[{s}]" for s in sites[1:])],
            llf=_log_likelihood(params, terms, observed),
            n_units=with_events[self.unit].n_unique() if self.unit else with_events.height,
            n_events=int(with_events[self.event].sum()),
            sites=sites.to_list(),
            sites_left_out=all_sites.filter(~all_sites.is_in(sites.to_list())).to_list(),
            n_sites_compared=switching[self.site].n_unique(),
        )

    def _risk_set_counts(self, rows: pl.DataFrame, sites: pl.Series) -> tuple[np.ndarray, np.ndarray]:
        """At risk and with the event at each period with an event, by site and exposure:
        two arrays of event periods x sites x (unexposed, exposed)."""
        site = np.searchsorted(sites.to_numpy(), rows[self.site].to_numpy())
        exposed = rows[self.exposure].to_numpy().astype(int)
        first = rows[self.start].min()  # periods from it: array positions
        start, stop = ((rows[c] - first).to_numpy() for c in (self.start, self.stop))
        event = rows[self.event].to_numpy()
        grid = (sites.len(), 2, stop.max() + 2)
        entered, left, failed = np.zeros(grid), np.zeros(grid), np.zeros(grid)
        np.add.at(entered, (site, exposed, start + 1), 1)  # at risk from the period after start
        np.add.at(left, (site, exposed, stop + 1), 1)  # up to and including stop
        np.add.at(failed, (site[event], exposed[event], stop[event]), 1)
        at_risk = np.cumsum(entered - left, axis=2)
        periods = np.unique(stop[event])
        return np.moveaxis(at_risk[:, :, periods], 2, 0), np.moveaxis(failed[:, :, periods], 2, 0)


@dataclass(frozen=True)
class SiteCoxResults:
    """A fitted `SiteCox`: `params` on the log-hazard scale, the exposure first, then a term
    for every site in the fit but the first (its reference)."""

    params: np.ndarray
    bse: np.ndarray
    param_names: list[str]
    llf: float  # log partial likelihood at the estimate
    n_units: int  # units (rows when no unit column) at the sites in the fit
    n_events: int
    sites: list[str]  # in the fit: sites with at least one event
    sites_left_out: list[str]  # without an event
    n_sites_compared: int  # sites with both exposed and unexposed rows: the ones that compare before with after

    @property
    def pvalues(self) -> np.ndarray:
        """Two-sided Wald p-values that each parameter is 0 (a hazard ratio of 1)."""
        return 2 * stats.norm.sf(np.abs(self.params / self.bse))

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """Wald intervals on the log-hazard scale, one row (low, high) per parameter."""
        half = stats.norm.ppf(1 - alpha / 2) * self.bse
        return np.column_stack([self.params - half, self.params + half])

    @property
    def hazard_ratio(self) -> float:
        """The exposure's hazard ratio: below 1, exposed rows have the event less often."""
        return float(np.exp(self.params[0]))

    def hazard_ratio_conf_int(self, alpha: float = 0.05) -> tuple[float, float]:
        low, high = np.exp(self.conf_int(alpha)[0])
        return float(low), float(high)

    def summary(self, alpha: float = 0.05) -> str:
        """The exposure's hazard ratio in words, with what the fit rests on and left out."""
        low, high = self.hazard_ratio_conf_int(alpha)
        left_out = (f"{len(self.sites_left_out)} site(s) left out, without an event: "
                    f"{', '.join(map(str, self.sites_left_out))}" if self.sites_left_out
                    else "no site left out (every site has an event)")
        return "\n".join([
            "Cox proportional hazards, a term per site, Efron ties, rows at risk in (start, stop]",
            f"{self.param_names[0]}: hazard ratio {self.hazard_ratio:.3f} ({1 - alpha:.0%} interval {low:.3f} to "
            f"{high:.3f}), log {self.params[0]:+.4f} (se {self.bse[0]:.4f}), p = {self.pvalues[0]:.3g}",
            f"{self.n_events} events among {self.n_units} units at {len(self.sites)} sites; {left_out}",
            f"{self.n_sites_compared} site(s) hold both exposed and unexposed time and compare before with after; "
            "the others inform only the shared shape of the hazard over time",
        ])


def _efron_terms(at_risk: np.ndarray, failed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One risk-set term per event (events x sites x 2) and the events per site and exposure.

    Efron's handling of d tied events in a period replaces the risk set's sum by its sum
    less j/d of the events' sum, j = 0..d-1.
    """
    n_failed = failed.sum(axis=(1, 2)).astype(int)
    period = np.repeat(np.arange(n_failed.size), n_failed)
    share_gone = np.concatenate([np.arange(d) / d for d in n_failed])
    return at_risk[period] - share_gone[:, None, None] * failed[period], failed.sum(axis=0)


def _linear_predictor(params: np.ndarray) -> np.ndarray:
    """Sites x (unexposed, exposed): the site's term, plus the exposure's when exposed."""
    site_terms = np.concatenate([[0.0], params[1:]])
    return site_terms[:, None] + np.array([0.0, params[0]])[None, :]


def _log_likelihood(params: np.ndarray, terms: np.ndarray, observed: np.ndarray) -> float:
    eta = _linear_predictor(params)
    shift = eta.max()
    at_risk = np.log((terms * np.exp(eta - shift)).sum(axis=(1, 2))) + shift
    return float((observed * eta).sum() - at_risk.sum())


def _score_and_information(
    params: np.ndarray, terms: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and observed information of the log partial likelihood.

    Each term's weights give the covariates' expected value over its risk set (the
    exposed share and each site's share); the information is the sum over terms of
    their covariance, built from those shares without a row-level design matrix.
    """
    eta = _linear_predictor(params)
    weights = terms * np.exp(eta - eta.max())
    share = weights / weights.sum(axis=(1, 2))[:, None, None]
    expected = share.sum(axis=0)
    score = np.concatenate([[(observed - expected)[:, 1].sum()], (observed - expected).sum(axis=1)[1:]])
    mean_covariates = np.column_stack([share[:, :, 1].sum(axis=1), share.sum(axis=2)[:, 1:]])
    information = -mean_covariates.T @ mean_covariates
    sites = np.arange(1, params.size)
    information[0, 0] += expected[:, 1].sum()
    information[0, sites] += expected[1:, 1]
    information[sites, 0] += expected[1:, 1]
    information[sites, sites] += expected.sum(axis=1)[1:]
    return score, information


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
