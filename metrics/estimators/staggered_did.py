"""The effect of training on adoption when sites are trained at different weeks.

Why this estimator: sites are trained in waves, and the struggling ones first. Comparing
trained with untrained sites then mostly measures who got trained, and the usual two-way
fixed-effects regression is no cure once effects differ by cohort or grow with time: it
uses already-trained sites as controls for later ones, and can even flip sign
(Goodman-Bacon 2021). Callaway & Sant'Anna (2021) avoid both. Each group-time effect
ATT(g, t) compares the sites first trained in week g with sites not (yet) trained, between
week t and a base week before g; the many small effects are then averaged into the numbers
people ask for.

This module follows the R `did` package (no covariates, balanced panel, analytic standard
errors, i.e. `bstrap = FALSE`): standard errors come from influence functions, which
amounts to clustering by unit, and every joint covariance comes from the same functions.
`naive_difference` and `twfe` are there to show the bias the estimator removes.

Reference: Callaway, B. and Sant'Anna, P. H. C. (2021), "Difference-in-Differences with
multiple time periods", Journal of Econometrics 225(2), 200-230.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy import stats

__all__ = [
    "Aggregate",
    "BasePeriod",
    "ControlGroup",
    "Estimate",
    "GroupTimeEffects",
    "PanelColumns",
    "WaldTest",
    "aggregate_dynamic",
    "aggregate_group",
    "aggregate_simple",
    "group_time_att",
    "naive_difference",
    "pretrend_test",
    "training_effect_table",
    "twfe",
    "wald_test",
]

ControlGroup = Literal["notyettreated", "nevertreated"]
BasePeriod = Literal["varying", "universal"]

Z_95 = float(stats.norm.ppf(0.975))
# R did reports no standard error below this: such a cell is a reference fixed at zero.
_ZERO_SE = float(np.sqrt(np.finfo(float).eps) * 10)
_NEVER = np.inf


@dataclass(frozen=True)
class PanelColumns:
    """Where the estimator finds what it needs in a long (unit, period) frame.

    `first_treated` holds the unit's first treated period, null (or 0, as in R's `did`)
    for a unit never treated. It has the period column's type.
    """

    unit: str
    period: str
    outcome: str
    first_treated: str


@dataclass(frozen=True)
class Estimate:
    """One number with its standard error and a pointwise normal 95% interval.

    `n_units` counts the treated units the number speaks for.
    """

    estimate: float
    se: float
    n_units: int

    @property
    def ci_low(self) -> float:
        return self.estimate - Z_95 * self.se

    @property
    def ci_high(self) -> float:
        return self.estimate + Z_95 * self.se


@dataclass(frozen=True)
class WaldTest:
    """Joint test that a set of effects are all zero: chi-squared with `df` degrees, or,
    with the small-sample correction, F with (`df`, `df_denom`) degrees."""

    statistic: float
    df: int
    p_value: float
    df_denom: int | None = None


@dataclass(frozen=True)
class Aggregate:
    """An average of group-time effects, and the effects it averages over.

    `detail` has one row per group ("group") or per event time ("dynamic"), none for
    "simple"; `detail_influence` holds their influence functions (units x rows), so that
    joint tests such as `pretrend_test` use their covariance.
    """

    kind: Literal["simple", "group", "dynamic"]
    overall: Estimate
    detail: pl.DataFrame
    detail_influence: np.ndarray


@dataclass(frozen=True)
class GroupTimeEffects:
    """Every ATT(g, t) with its influence function: the input to every aggregation.

    Groups and times are positions in `periods`, so that event time is `time - group` in
    periods. `influence` is units x cells and scaled so that the covariance of the
    estimates is `influence.T @ influence / n_units**2` (clustered by unit).
    """

    periods: np.ndarray
    group: np.ndarray
    time: np.ndarray
    estimate: np.ndarray
    influence: np.ndarray
    n_treated: np.ndarray
    n_control: np.ndarray
    unit_group: np.ndarray
    control_group: ControlGroup
    base_period: BasePeriod
    n_dropped_units: int

    @property
    def n_units(self) -> int:
        return self.influence.shape[0]

    @property
    def se(self) -> np.ndarray:
        return _standard_errors(self.influence)

    def to_frame(self) -> pl.DataFrame:
        """One row per ATT(g, t), with group and period in the data's own units."""
        return pl.DataFrame(
            {
                "group": self.periods[self.group],
                "period": self.periods[self.time],
                "event_time": self.time - self.group,
                "estimate": self.estimate,
                "se": self.se,
                "n_treated": self.n_treated,
                "n_control": self.n_control,
            }
        ).with_columns(_interval_columns())


@dataclass(frozen=True)
class _Panel:
    """A balanced panel as arrays: outcome is units x periods in period order."""

    outcome: np.ndarray
    unit_group: np.ndarray
    periods: np.ndarray
    n_dropped_units: int

    def treated_now(self) -> np.ndarray:
        """Units x periods: is the unit treated in that period."""
        return np.arange(self.periods.size)[None, :] >= self.unit_group[:, None]


def group_time_att(
    data: pl.DataFrame,
    columns: PanelColumns,
    *,
    control_group: ControlGroup = "notyettreated",
    base_period: BasePeriod = "varying",
    anticipation: int = 0,
) -> GroupTimeEffects:
    """Estimate every ATT(g, t) of a balanced panel, as R's `att_gt` without covariates.

    `control_group="notyettreated"` compares with the never treated and the not yet
    treated, which keeps more controls when few sites are never trained;
    "nevertreated" uses the never treated alone. A "varying" base period compares each
    pre-treatment period with the one before it (R's default); "universal" compares
    every period with g - 1 - anticipation. Units treated before any untreated base
    period are dropped (`n_dropped_units`), as R does: there is nothing to difference.
    """
    _check_choice("control_group", control_group, ("notyettreated", "nevertreated"))
    _check_choice("base_period", base_period, ("varying", "universal"))
    if anticipation < 0:
        raise ValueError(f"anticipation must be >= 0, got {anticipation}")
    panel = _balanced_panel(data, columns, anticipation)
    return _group_time_att(panel, control_group, base_period, anticipation)


def aggregate_simple(effects: GroupTimeEffects) -> Aggregate:
    """Average effect over all treated units' post-treatment periods.

    Each post-treatment cell weighs by its group's size, so this is the average over
    treated (unit, period) pairs from treatment on: the contract's overall effect.
    """
    post = effects.time >= effects.group
    _require(post.any(), "no post-treatment group-time effects to aggregate")
    estimate, influence = _share_weighted_cells(effects, post)
    overall = Estimate(estimate, _standard_errors(influence), _n_treated(effects, post))
    no_detail = np.empty((effects.n_units, 0))
    return Aggregate("simple", overall, _detail_frame("group", [], [], no_detail, []), no_detail)


def aggregate_group(effects: GroupTimeEffects) -> Aggregate:
    """Each group's average post-treatment effect, and their group-size-weighted mean.

    Unlike "simple", a group treated early does not count more for having more
    post-treatment periods.
    """
    post = effects.time >= effects.group
    groups = np.unique(effects.group[post])
    _require(groups.size > 0, "no post-treatment group-time effects to aggregate")
    by_group = [_share_weighted_cells(effects, post & (effects.group == g)) for g in groups]
    estimates = np.array([estimate for estimate, _ in by_group])
    influence = np.column_stack([column for _, column in by_group])
    estimate, overall_influence = _share_weighted(
        estimates, influence, groups, effects.unit_group
    )
    sizes = [_n_treated(effects, effects.group == g) for g in groups]
    overall = Estimate(estimate, _standard_errors(overall_influence), int(sum(sizes)))
    detail = _detail_frame("group", effects.periods[groups], estimates, influence, sizes)
    return Aggregate("group", overall, detail, influence)


def aggregate_dynamic(
    effects: GroupTimeEffects, min_e: float = -np.inf, max_e: float = np.inf
) -> Aggregate:
    """Event study: the effect e periods after treatment, for e in [min_e, max_e].

    Each e averages the groups observed e periods from treatment, weighted by size; the
    overall number is the plain mean over e >= 0 in the window, as R's `aggte`. Which
    groups make up an e changes with e, so compare far-apart e with care.
    """
    event_time = effects.time - effects.group
    window = np.unique(event_time[(event_time >= min_e) & (event_time <= max_e)])
    _require(window.size > 0, f"no group-time effects with event time in [{min_e}, {max_e}]")
    by_event = [_share_weighted_cells(effects, event_time == e) for e in window]
    estimates = np.array([estimate for estimate, _ in by_event])
    influence = np.column_stack([column for _, column in by_event])
    sizes = [_n_treated(effects, event_time == e) for e in window]
    after = window >= 0
    _require(after.any(), "the event window holds no period from treatment on")
    overall = Estimate(
        float(estimates[after].mean()),
        _standard_errors(influence[:, after].mean(axis=1)),
        _n_treated(effects, (event_time >= 0) & (event_time <= max_e)),
    )
    detail = _detail_frame("event_time", window, estimates, influence, sizes)
    return Aggregate("dynamic", overall, detail, influence)


def pretrend_test(event_study: Aggregate, small_sample: bool = False) -> WaldTest:
    """Are all pre-treatment event-study effects zero? A small p-value casts doubt on
    parallel trends (or flags anticipation); a large one is no proof of them.

    `small_sample`: see `wald_test`; worth it below a few hundred units."""
    _require(event_study.kind == "dynamic", "pretrend_test needs aggregate_dynamic's result")
    before = (event_study.detail["event_time"] < 0).to_numpy()
    _require(before.any(), "the event study has no pre-treatment period")
    return wald_test(
        event_study.detail["estimate"].to_numpy()[before],
        event_study.detail_influence[:, before],
        small_sample=small_sample,
    )


def wald_test(estimates: np.ndarray, influence: np.ndarray, small_sample: bool = False) -> WaldTest:
    """Joint Wald test that `estimates` are all zero, with the covariance of their
    influence functions (units x estimates). Effects fixed at zero by construction (the
    reference period of a universal base) carry no information and are left out.

    The covariance is itself estimated from n units, so with k effects and a few dozen
    units the chi-squared reference rejects far too often (about 30% at a nominal 5% with
    30 units and 8 pre-periods). `small_sample=True` treats the statistic as Hotelling's
    T-squared of the mean influence: F = W (n - k) / (k n) on (k, n - k) degrees, which
    holds its size there; R's `did` reports the chi-squared version (the default).
    """
    n_units = influence.shape[0]
    covariance = influence.T @ influence / n_units**2
    informative = np.sqrt(np.diag(covariance)) > _ZERO_SE
    _require(informative.any(), "no estimate with a positive variance to test")
    kept = estimates[informative]
    statistic = float(kept @ np.linalg.solve(covariance[np.ix_(informative, informative)], kept))
    df = int(informative.sum())
    if not small_sample:
        return WaldTest(statistic, df, float(stats.chi2.sf(statistic, df)))
    _require(n_units > df, f"the small-sample test needs more units ({n_units}) than effects ({df})")
    f_statistic = statistic * (n_units - df) / (df * n_units)
    return WaldTest(f_statistic, df, float(stats.f.sf(f_statistic, df, n_units - df)), n_units - df)


def naive_difference(data: pl.DataFrame, columns: PanelColumns) -> Estimate:
    """Mean outcome of treated units after treatment minus that of every untreated
    (unit, period): what a dashboard would show without thought. Biased whenever
    who gets treated depends on the outcome's level."""
    return _naive_difference(_balanced_panel(data, columns, anticipation=0))


def twfe(data: pl.DataFrame, columns: PanelColumns) -> Estimate:
    """Two-way fixed-effects OLS of the outcome on a treated-now dummy, clustered by unit.

    The textbook answer, biased under staggered timing with effects that vary by cohort
    or grow with time; kept to show that bias beside `aggregate_simple`.
    """
    return _twfe(_balanced_panel(data, columns, anticipation=0))


def training_effect_table(
    data: pl.DataFrame,
    columns: PanelColumns,
    *,
    control_group: ControlGroup = "notyettreated",
    min_e: int = -8,
    max_e: int = 12,
) -> pl.DataFrame:
    """Rows of the contract's `training_effect` table for one outcome.

    Method "callaway_santanna": the overall effect (`aggregate_simple`, event_week null)
    and the event study for event weeks min_e..max_e; then the overall rows of
    "naive_difference" and "twfe" for comparison.
    """
    panel = _balanced_panel(data, columns, anticipation=0)
    effects = _group_time_att(panel, control_group, "varying", anticipation=0)
    event_study = aggregate_dynamic(effects, min_e, max_e).detail
    overall = _overall_rows(
        {
            "callaway_santanna": aggregate_simple(effects).overall,
            "naive_difference": _naive_difference(panel),
            "twfe": _twfe(panel),
        }
    )
    dynamic = event_study.select(
        pl.col("event_time").alias("event_week"),
        "estimate",
        "ci_low",
        "ci_high",
        "n_units",
        pl.lit("callaway_santanna").alias("method"),
    )
    return (
        pl.concat([overall, dynamic])
        .with_columns(
            pl.lit(columns.outcome).alias("outcome"),
            # DuckDB and the dashboard read a missing interval as null, not NaN.
            pl.col("estimate", "ci_low", "ci_high").fill_nan(None),
        )
        .select("outcome", "event_week", "estimate", "ci_low", "ci_high", "n_units", "method")
    )


def _overall_rows(by_method: dict[str, Estimate]) -> pl.DataFrame:
    """One overall row (event_week null) per method."""
    estimates = list(by_method.values())
    return pl.DataFrame(
        {
            "event_week": pl.Series([None] * len(estimates), dtype=pl.Int64),
            "estimate": [e.estimate for e in estimates],
            "ci_low": [e.ci_low for e in estimates],
            "ci_high": [e.ci_high for e in estimates],
            "n_units": pl.Series([e.n_units for e in estimates], dtype=pl.Int64),
            "method": list(by_method),
        }
    )


def _group_time_att(
    panel: _Panel, control_group: ControlGroup, base_period: BasePeriod, anticipation: int
) -> GroupTimeEffects:
    never = np.isinf(panel.unit_group)
    if control_group == "nevertreated":
        _require(never.any(), "control_group='nevertreated' but no unit is never treated")
    cohorts = np.unique(panel.unit_group[~never]).astype(int)
    _require(cohorts.size > 0, "no unit is treated within the panel")
    cells = [
        _cohort_cells(panel, g, control_group, base_period, anticipation) for g in cohorts
    ]
    return GroupTimeEffects(
        periods=panel.periods,
        group=np.concatenate([c.group for c in cells]),
        time=np.concatenate([c.time for c in cells]),
        estimate=np.concatenate([c.estimate for c in cells]),
        influence=np.hstack([c.influence for c in cells]),
        n_treated=np.concatenate([c.n_treated for c in cells]),
        n_control=np.concatenate([c.n_control for c in cells]),
        unit_group=panel.unit_group,
        control_group=control_group,
        base_period=base_period,
        n_dropped_units=panel.n_dropped_units,
    )


@dataclass(frozen=True)
class _Cells:
    """The ATT(g, t) of one cohort g over the periods t it can be compared in."""

    group: np.ndarray
    time: np.ndarray
    estimate: np.ndarray
    influence: np.ndarray
    n_treated: np.ndarray
    n_control: np.ndarray


def _cohort_cells(
    panel: _Panel, g: int, control_group: ControlGroup, base_period: BasePeriod, anticipation: int
) -> _Cells:
    """All 2x2 comparisons of cohort g at once: one column per period t.

    Without covariates each is a difference of mean changes, treated minus controls,
    and its influence function is that of two sample means. It is scaled by the whole
    sample (n / n_cell, as R does) so that cells and their averages share one covariance.
    """
    n_units, n_periods = panel.outcome.shape
    time, base = _comparison_periods(g, n_periods, base_period, anticipation)
    change = panel.outcome[:, time] - panel.outcome[:, base]
    treated = panel.unit_group == g
    if control_group == "nevertreated":
        control = np.repeat(np.isinf(panel.unit_group)[:, None], time.size, axis=1)
    else:
        untreated_through = np.maximum(time, base) + anticipation
        control = (panel.unit_group[:, None] > untreated_through[None, :]) & ~treated[:, None]
    n_control = control.sum(axis=0)
    usable = n_control > 0  # late cells of the last cohort may have no one left to compare
    change, control = change[:, usable], control[:, usable]
    time, n_control = time[usable], n_control[usable]
    n_treated = int(treated.sum())
    treated_mean = change[treated].mean(axis=0)
    control_mean = (change * control).sum(axis=0) / n_control
    influence = n_units * (
        treated[:, None] * (change - treated_mean) / n_treated
        - control * (change - control_mean) / n_control
    )
    return _Cells(
        group=np.full(time.size, g),
        time=time,
        estimate=treated_mean - control_mean,
        influence=influence,
        n_treated=np.full(time.size, n_treated),
        n_control=n_control,
    )


def _comparison_periods(
    g: int, n_periods: int, base_period: BasePeriod, anticipation: int
) -> tuple[np.ndarray, np.ndarray]:
    """Periods t at which cohort g is compared, and the base period of each.

    From treatment on (t >= g) the base is the last period before any anticipation,
    g - 1 - anticipation. Before it, "varying" takes t - 1, so that each pre-treatment
    effect is a one-period placebo; "universal" keeps g - 1 - anticipation and reports
    that period itself as a reference effect of zero.
    """
    time = np.arange(n_periods)
    last_untreated = g - 1 - anticipation
    if base_period == "universal":
        return time, np.full(n_periods, last_untreated)
    time = time[1:]
    return time, np.where(time >= g, last_untreated, time - 1)


def _share_weighted_cells(
    effects: GroupTimeEffects, cells: np.ndarray
) -> tuple[float, np.ndarray]:
    """Group-size-weighted mean of the chosen cells and its influence function."""
    return _share_weighted(
        effects.estimate[cells],
        effects.influence[:, cells],
        effects.group[cells],
        effects.unit_group,
    )


def _share_weighted(
    estimates: np.ndarray, influence: np.ndarray, groups: np.ndarray, unit_group: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean of estimates weighted by their group's share of units, with its influence
    function.

    The shares are estimated too, so the influence function has a second part for them
    (R did's `wif`): that of a ratio sum(share * estimate) / sum(share).
    """
    membership = unit_group[:, None] == groups[None, :]
    share = membership.mean(axis=0)
    total = share.sum()
    estimate = float(share @ estimates / total)
    share_deviation = membership - share
    weights_influence = (
        share_deviation @ estimates - share_deviation.sum(axis=1) * estimate
    ) / total
    return estimate, influence @ (share / total) + weights_influence


def _standard_errors(influence: np.ndarray) -> np.ndarray | float:
    """Standard errors from influence functions (units on axis 0): sqrt(mean(psi^2)/n).

    Near-zero values, the reference cells of a universal base, become NaN as in R.
    """
    se = np.sqrt((influence**2).sum(axis=0)) / influence.shape[0]
    se = np.where(se > _ZERO_SE, se, np.nan)
    return float(se) if se.ndim == 0 else se


def _n_treated(effects: GroupTimeEffects, cells: np.ndarray) -> int:
    """Treated units in the groups behind the chosen cells."""
    groups = np.unique(effects.group[cells])
    return int(np.isin(effects.unit_group, groups).sum())


def _detail_frame(
    key: str,
    values: np.ndarray | list,
    estimates: np.ndarray | list,
    influence: np.ndarray,
    sizes: list[int],
) -> pl.DataFrame:
    """The per-group or per-event-time rows of an aggregate, with intervals."""
    return pl.DataFrame(
        {
            key: pl.Series(values, dtype=pl.Int64) if key == "event_time" else values,
            "estimate": pl.Series(estimates, dtype=pl.Float64),
            "se": pl.Series(_standard_errors(influence), dtype=pl.Float64),
            "n_units": pl.Series(sizes, dtype=pl.Int64),
        }
    ).with_columns(_interval_columns())


def _interval_columns() -> list[pl.Expr]:
    """Pointwise normal 95% interval from the estimate and se columns."""
    return [
        (pl.col("estimate") - Z_95 * pl.col("se")).alias("ci_low"),
        (pl.col("estimate") + Z_95 * pl.col("se")).alias("ci_high"),
    ]


def _naive_difference(panel: _Panel) -> Estimate:
    treated_now = panel.treated_now().ravel().astype(float)
    design = np.column_stack([np.ones_like(treated_now), treated_now])
    return _clustered_ols(panel, panel.outcome.ravel(), design)


def _twfe(panel: _Panel) -> Estimate:
    """Within (two-way demeaned) regression: on a balanced panel this gives the same
    coefficient as unit and period dummies (Frisch-Waugh-Lovell) without building them."""
    outcome = _two_way_demean(panel.outcome)
    treated_now = _two_way_demean(panel.treated_now().astype(float))
    return _clustered_ols(panel, outcome.ravel(), treated_now.reshape(-1, 1))


def _two_way_demean(values: np.ndarray) -> np.ndarray:
    return values - values.mean(axis=1, keepdims=True) - values.mean(axis=0) + values.mean()


def _clustered_ols(panel: _Panel, outcome: np.ndarray, design: np.ndarray) -> Estimate:
    """OLS whose last coefficient is the treatment effect, standard errors clustered by
    unit so that serial correlation within a site does not fake precision."""
    n_units, n_periods = panel.outcome.shape
    fit = sm.OLS(outcome, design).fit(
        cov_type="cluster", cov_kwds={"groups": np.repeat(np.arange(n_units), n_periods)}
    )
    n_treated = int((~np.isinf(panel.unit_group)).sum())
    return Estimate(float(fit.params[-1]), float(fit.bse[-1]), n_treated)


def _balanced_panel(data: pl.DataFrame, columns: PanelColumns, anticipation: int) -> _Panel:
    """Validate the long frame and turn it into a units x periods outcome matrix."""
    names = [columns.unit, columns.period, columns.outcome, columns.first_treated]
    missing = [name for name in names if name not in data.columns]
    _require(not missing, f"missing column(s): {', '.join(missing)}")
    frame = data.select(names).with_columns(pl.col(columns.outcome).cast(pl.Float64))
    frame = frame.sort(columns.unit, columns.period)
    _require(frame.height > 0, "the panel is empty")
    _require(
        frame[columns.outcome].null_count() == 0 and frame[columns.outcome].is_finite().all(),
        f"column {columns.outcome!r} has null or non-finite values",
    )
    periods = frame[columns.period].unique().sort()
    per_unit = frame.group_by(columns.unit, maintain_order=True).agg(
        pl.len().alias("rows"),
        pl.col(columns.period).n_unique().alias("periods"),
        pl.col(columns.first_treated).n_unique().alias("first_treated_values"),
        pl.col(columns.first_treated).first(),
    )
    _require(
        (per_unit["rows"] == periods.len()).all() and (per_unit["periods"] == periods.len()).all(),
        f"the panel is not balanced: every {columns.unit!r} needs exactly one row "
        f"in each of the {periods.len()} periods",
    )
    _require(
        (per_unit["first_treated_values"] == 1).all(),
        f"column {columns.first_treated!r} must be constant within each {columns.unit!r}",
    )
    unit_group = _first_treated_index(per_unit[columns.first_treated], periods)
    kept = unit_group >= 1 + anticipation  # a base period before treatment exists
    outcome = frame[columns.outcome].to_numpy().reshape(-1, periods.len())
    return _Panel(outcome[kept], unit_group[kept], periods.to_numpy(), int((~kept).sum()))


def _first_treated_index(first_treated: pl.Series, periods: pl.Series) -> np.ndarray:
    """Position of each unit's first treated period; inf when never treated.

    Null or 0 mean never treated; a period after the panel's last one is never treated
    within the panel, and one before its first is position 0 (already treated), both as
    in R's `did`. A value between two periods is an error: event time would be ambiguous.
    """
    if first_treated.dtype.is_numeric():
        first_treated = first_treated.replace(0, None)
    as_period = _cast_like(first_treated, periods)
    grid = periods.to_numpy()
    value = as_period.fill_null(periods[0]).to_numpy()
    position = np.searchsorted(grid, value)
    treated = as_period.is_not_null().to_numpy()
    after_panel = position == grid.size
    exact = (grid[np.minimum(position, grid.size - 1)] == value) & (
        as_period.cast(first_treated.dtype) == first_treated
    ).fill_null(True).to_numpy()
    off_grid = treated & ~after_panel & (position > 0) & ~exact
    if off_grid.any():
        shown = first_treated.filter(pl.Series(off_grid))[0]
        raise ValueError(f"first treated period {shown!r} is not one of the panel's periods")
    return np.where(treated & ~after_panel, position, _NEVER).astype(float)


def _cast_like(first_treated: pl.Series, periods: pl.Series) -> pl.Series:
    """First treated periods in the period column's type, so they can be looked up."""
    try:
        return first_treated.cast(periods.dtype)
    except pl.exceptions.InvalidOperationError as error:
        raise ValueError(
            f"first treated periods ({first_treated.dtype}) must have the period type "
            f"({periods.dtype})"
        ) from error


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    _require(value in allowed, f"{name} must be one of {allowed}, got {value!r}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
