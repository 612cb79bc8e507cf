"""Tests for metrics.estimators.staggered_did.

First the published results of Callaway & Sant'Anna's R package `did` on their `mpdta`
panel (tests/data/mpdta, see its README), then panels with a planted truth that show why
the estimator exists: trained-vs-untrained gaps and two-way fixed effects miss it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from metrics.estimators.staggered_did import (
    Estimate,
    GroupTimeEffects,
    PanelColumns,
    aggregate_dynamic,
    aggregate_group,
    aggregate_simple,
    group_time_att,
    naive_difference,
    pretrend_test,
    training_effect_table,
    twfe,
    wald_test,
)
from tests.support import DATA

MPDTA = DATA / "mpdta" / "mpdta.csv"
MPDTA_COLUMNS = PanelColumns(
    unit="countyreal", period="year", outcome="lemp", first_treated="first.treat"
)


@pytest.fixture(scope="module")
def mpdta() -> pl.DataFrame:
    return pl.read_csv(MPDTA)


@pytest.fixture(scope="module")
def never_treated(mpdta: pl.DataFrame) -> GroupTimeEffects:
    """R's `att_gt` defaults: never-treated controls, varying base period."""
    return group_time_att(mpdta, MPDTA_COLUMNS, control_group="nevertreated")


def cell(effects: GroupTimeEffects, group: int, period: int) -> dict:
    """One ATT(g, t) row, addressed in years as the paper does."""
    rows = effects.to_frame().filter(pl.col("group") == group, pl.col("period") == period)
    assert rows.height == 1
    return rows.row(0, named=True)


# --- mpdta: published R `did` results --------------------------------------------------


def test_group_time_effects_match_published_did(never_treated: GroupTimeEffects) -> None:
    assert round(cell(never_treated, 2004, 2004)["estimate"], 4) == -0.0105
    assert round(cell(never_treated, 2004, 2006)["estimate"], 4) == -0.1373
    # All twelve cells (g = 2004, 2006, 2007 by t = 2004..2007) with analytic standard
    # errors, as R did with bstrap = FALSE (values via moderndid 0.2.0, see the README).
    np.testing.assert_allclose(
        never_treated.estimate,
        [-0.010503, -0.070423, -0.137259, -0.100811, 0.00652, -0.002751,
         -0.004595, -0.041224, 0.030507, -0.002726, -0.031087, -0.026054],
        atol=5e-7,
    )
    np.testing.assert_allclose(
        never_treated.se,
        [0.023251, 0.030985, 0.036436, 0.034359, 0.023327, 0.019559,
         0.017755, 0.020229, 0.015034, 0.016396, 0.017878, 0.016655],
        atol=5e-7,
    )


def test_group_aggregation_matches_published_did(never_treated: GroupTimeEffects) -> None:
    group = aggregate_group(never_treated)
    assert round(group.overall.estimate, 4) == -0.0310
    # R prints 0.0126 with its default bootstrap; the analytic value is 0.012446.
    assert group.overall.se == pytest.approx(0.0126, abs=3e-4)
    assert group.overall.se == pytest.approx(0.012446, abs=5e-7)
    np.testing.assert_allclose(
        group.detail["estimate"].to_numpy(), [-0.079749, -0.02291, -0.026054], atol=5e-7
    )


def test_dynamic_aggregation_matches_published_did(never_treated: GroupTimeEffects) -> None:
    dynamic = aggregate_dynamic(never_treated)
    assert round(dynamic.overall.estimate, 4) == -0.0772
    # The published event study, e = -3..3.
    assert dynamic.detail["event_time"].to_list() == [-3, -2, -1, 0, 1, 2, 3]
    np.testing.assert_allclose(
        dynamic.detail["estimate"].to_numpy().round(4),
        [0.0305, -0.0006, -0.0245, -0.0199, -0.0510, -0.1373, -0.1008],
    )
    assert dynamic.overall.se == pytest.approx(0.019965, abs=5e-7)


def test_simple_aggregation(never_treated: GroupTimeEffects) -> None:
    simple = aggregate_simple(never_treated)
    # Reference: moderndid 0.2.0, aggte(type="simple", boot=False).
    assert simple.overall.estimate == pytest.approx(-0.039951, abs=5e-7)
    assert simple.overall.se == pytest.approx(0.012034, abs=5e-7)
    assert simple.overall.n_units == 191  # 20 + 40 + 131 treated counties


def test_joint_covariance_reproduces_published_pretest(never_treated: GroupTimeEffects) -> None:
    """R's summary(att_gt) prints 0.16812 for the Wald test that the five
    pre-treatment ATT(g, t) are zero: the joint covariance is R's."""
    before = never_treated.time < never_treated.group
    test = wald_test(never_treated.estimate[before], never_treated.influence[:, before])
    assert test.df == 5
    assert round(test.p_value, 5) == 0.16812


def test_event_study_pretrend_test(never_treated: GroupTimeEffects) -> None:
    dynamic = aggregate_dynamic(never_treated)
    test = pretrend_test(dynamic)
    assert test.df == 3  # e = -3, -2, -1
    before = (dynamic.detail["event_time"] < 0).to_numpy()
    estimates = dynamic.detail["estimate"].to_numpy()[before]
    same = wald_test(estimates, dynamic.detail_influence[:, before])
    assert test == same
    assert test.p_value == pytest.approx(0.0621, abs=1e-4)


def test_not_yet_treated_controls_are_plausible(mpdta: pl.DataFrame) -> None:
    effects = group_time_att(mpdta, MPDTA_COLUMNS, control_group="notyettreated")
    # Reference: moderndid 0.2.0, control_group="notyettreated" (see the README).
    assert cell(effects, 2004, 2004)["estimate"] == pytest.approx(-0.019372, abs=5e-7)
    # 2004 vs controls in 2007: only the 309 never treated are left untreated.
    assert cell(effects, 2004, 2007)["n_control"] == 309
    assert cell(effects, 2004, 2004)["n_control"] == 480
    assert aggregate_simple(effects).overall.estimate == pytest.approx(-0.039764, abs=5e-7)
    group = aggregate_group(effects).overall
    assert group.estimate == pytest.approx(-0.030462, abs=5e-7)
    assert group.se == pytest.approx(0.012575, abs=5e-7)
    assert aggregate_dynamic(effects).overall.estimate == pytest.approx(-0.077399, abs=5e-7)


def test_universal_base_period(mpdta: pl.DataFrame) -> None:
    effects = group_time_att(
        mpdta, MPDTA_COLUMNS, control_group="nevertreated", base_period="universal"
    )
    reference = cell(effects, 2006, 2005)  # g - 1: the reference, zero with no error
    assert reference["estimate"] == 0.0 and np.isnan(reference["se"])
    assert cell(effects, 2007, 2004)["estimate"] == pytest.approx(0.033813, abs=5e-7)
    dynamic = aggregate_dynamic(effects)
    assert dynamic.detail["event_time"].to_list() == [-4, -3, -2, -1, 0, 1, 2, 3]
    assert round(dynamic.overall.estimate, 4) == -0.0772  # post cells do not change
    assert pretrend_test(dynamic).df == 3  # the e = -1 reference is left out


def test_anticipation_drops_the_cohort_without_a_clean_base(mpdta: pl.DataFrame) -> None:
    effects = group_time_att(mpdta, MPDTA_COLUMNS, anticipation=1)
    assert effects.n_dropped_units == 20  # the 2004 cohort would need a 2002 base
    assert set(effects.to_frame()["group"]) == {2006, 2007}
    # Reference: moderndid 0.2.0, notyettreated, anticipation=1.
    assert aggregate_group(effects).overall.estimate == pytest.approx(-0.049778, abs=5e-7)


def test_event_window(never_treated: GroupTimeEffects) -> None:
    dynamic = aggregate_dynamic(never_treated, min_e=-2, max_e=1)
    assert dynamic.detail["event_time"].to_list() == [-2, -1, 0, 1]
    # The overall number averages e = 0 and e = 1 only.
    assert dynamic.overall.estimate == pytest.approx((-0.019932 + -0.050957) / 2, abs=1e-6)
    assert dynamic.overall.se == pytest.approx(0.011708, abs=5e-7)


def test_twfe_matches_published_fixest(mpdta: pl.DataFrame) -> None:
    """did's TWFE vignette: feols(lemp ~ post | countyreal + year, cluster = "countyreal")
    gives -0.036549 (0.013265; fixest's small-sample factor differs slightly)."""
    result = twfe(mpdta, MPDTA_COLUMNS)
    assert result.estimate == pytest.approx(-0.036549, abs=5e-7)
    assert result.se == pytest.approx(0.013265, abs=5e-5)


def test_twfe_equals_the_dummy_variable_regression(mpdta: pl.DataFrame) -> None:
    """Two-way demeaning is exact on a balanced panel (a 100-county slice keeps it quick)."""
    counties = mpdta["countyreal"].unique().sort().head(100).to_list()
    some = mpdta.filter(pl.col("countyreal").is_in(counties))
    post = (pl.col("first.treat") > 0) & (pl.col("year") >= pl.col("first.treat"))
    design = pl.concat(
        [
            some.select(post.cast(pl.Float64).alias("post")),
            some.select("countyreal").to_dummies(columns=["countyreal"]),
            some.select("year").to_dummies(columns=["year"], drop_first=True),
        ],
        how="horizontal",
    )
    dummies = sm.OLS(some["lemp"].to_numpy(), design.to_numpy().astype(float)).fit()
    assert twfe(some, MPDTA_COLUMNS).estimate == pytest.approx(dummies.params[0], abs=1e-10)


def test_naive_difference_is_the_raw_gap(mpdta: pl.DataFrame) -> None:
    treated_now = (pl.col("first.treat") > 0) & (pl.col("year") >= pl.col("first.treat"))
    means = mpdta.group_by(treated_now.alias("treated_now")).agg(pl.col("lemp").mean())
    gap = means.filter("treated_now")["lemp"][0] - means.filter(~pl.col("treated_now"))["lemp"][0]
    result = naive_difference(mpdta, MPDTA_COLUMNS)
    assert result.estimate == pytest.approx(gap, abs=1e-10)
    assert result.estimate > 0.3  # treated counties are larger: the sign is wrong


def test_training_effect_table_has_the_contract_columns(mpdta: pl.DataFrame) -> None:
    table = training_effect_table(mpdta, MPDTA_COLUMNS)
    assert table.schema == pl.Schema(
        {
            "outcome": pl.String,
            "event_week": pl.Int64,
            "estimate": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "n_units": pl.Int64,
            "method": pl.String,
        }
    )
    overall = table.filter(pl.col("event_week").is_null())
    assert overall["method"].to_list() == ["callaway_santanna", "naive_difference", "twfe"]
    event_weeks = table.filter(pl.col("event_week").is_not_null())
    assert event_weeks["event_week"].to_list() == [-3, -2, -1, 0, 1, 2, 3]  # mpdta's span
    assert set(event_weeks["method"]) == {"callaway_santanna"}
    assert (table["ci_low"] < table["estimate"]).all()
    assert (table["estimate"] < table["ci_high"]).all()
    assert overall["estimate"][0] == pytest.approx(-0.039764, abs=5e-7)  # not-yet-treated
    assert overall["n_units"][0] == 191


# --- planted truths --------------------------------------------------------------------

SITES = PanelColumns(
    unit="site_id",
    period="week",
    outcome="weekly_active_rate",
    first_treated="first_training_week",
)
N_SITES, N_WEEKS = 400, 20
WEEKS = [date(2024, 1, 1) + timedelta(weeks=k) for k in range(N_WEEKS)]
COHORTS = (5, 9, 13)  # week of first training for the three lowest quartiles; the top: never

Effect = Callable[[np.ndarray, np.ndarray], np.ndarray]


def constant_effect(weeks_since: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    return np.full(weeks_since.shape, 0.08)


def growing_effect(weeks_since: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """+1 point a week since training, twice as fast for the first cohort: the
    heterogeneous, growing effects under which TWFE uses trained sites as controls."""
    return 0.01 * (weeks_since + 1) * np.where(cohort == COHORTS[0], 2, 1)


def no_effect(weeks_since: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    return np.zeros(weeks_since.shape)


def simulate(seed: int, effect: Effect, selected_on: str = "level") -> tuple[pl.DataFrame, float]:
    """Weekly active rates of 400 sites over 20 weeks, and the true average effect on
    trained sites' weeks from training on (what `aggregate_simple` estimates).

    Sites are ranked, with noise, by their usage level (or by their trend) and the lowest
    quartile is trained first: struggling sites first. A common seasonal pattern and
    noise come on top.
    """
    rng = np.random.default_rng(seed)
    level = rng.normal(0.5, 0.12, N_SITES)
    trend = rng.normal(0.0, 0.004, N_SITES)
    driver = level if selected_on == "level" else trend
    rank = np.argsort(np.argsort(driver + rng.normal(0, 0.3 * driver.std(), N_SITES)))
    cohort = np.array([*COHORTS, np.inf])[rank * 4 // N_SITES]
    week = np.arange(N_WEEKS)
    weeks_since = week[None, :] - cohort[:, None]
    true_effect = np.where(weeks_since >= 0, effect(weeks_since, cohort[:, None]), 0.0)
    rate = (
        level[:, None]
        + trend[:, None] * week
        + 0.03 * np.sin(week / 3)
        + true_effect
        + rng.normal(0, 0.05, (N_SITES, N_WEEKS))
    )
    first_training = [None if np.isinf(c) else WEEKS[int(c)] for c in cohort]
    frame = pl.DataFrame(
        {
            "site_id": np.repeat([f"site-{i:03d}" for i in range(N_SITES)], N_WEEKS),
            "week": WEEKS * N_SITES,
            "weekly_active_rate": rate.ravel(),
            "first_training_week": pl.Series(
                [first for first in first_training for _ in WEEKS], dtype=pl.Date
            ),
        }
    )
    return frame, float(true_effect[weeks_since >= 0].mean())


def covers(estimate: Estimate, truth: float) -> bool:
    return estimate.ci_low <= truth <= estimate.ci_high


@pytest.mark.parametrize("control_group", ["notyettreated", "nevertreated"])
def test_constant_effect_is_recovered_where_the_naive_gap_fails(control_group: str) -> None:
    frame, truth = simulate(1, constant_effect)
    effects = group_time_att(frame, SITES, control_group=control_group)
    assert covers(aggregate_simple(effects).overall, truth)
    assert covers(aggregate_dynamic(effects, -8, 12).overall, truth)
    assert pretrend_test(aggregate_dynamic(effects, -8, 12)).p_value > 0.05
    naive = naive_difference(frame, SITES)
    assert naive.estimate < 0 < truth  # struggling sites were trained: the gap flips sign


@pytest.mark.parametrize("control_group", ["notyettreated", "nevertreated"])
def test_growing_effects_bias_twfe_but_not_callaway_santanna(control_group: str) -> None:
    frame, truth = simulate(2, growing_effect)
    effects = group_time_att(frame, SITES, control_group=control_group)
    assert covers(aggregate_simple(effects).overall, truth)
    event_study = aggregate_dynamic(effects, -8, 12).detail
    on_impact = event_study.filter(pl.col("event_time") == 0).row(0, named=True)
    # In the training week: 0.02 for the first cohort, 0.01 for the two others, all of 100.
    assert on_impact["ci_low"] <= (0.02 + 0.01 + 0.01) / 3 <= on_impact["ci_high"]
    biased = twfe(frame, SITES)
    assert not covers(biased, truth)
    assert biased.estimate < truth / 2


def test_selection_on_trends_is_flagged_by_the_pretrend_test() -> None:
    """When the sites trained first were already on a lower trend, parallel trends fails
    and no estimator here is unbiased; the event study's pre-period must show it."""
    frame, _ = simulate(3, no_effect, selected_on="trend")
    effects = group_time_att(frame, SITES)
    assert pretrend_test(aggregate_dynamic(effects, -8, 12)).p_value < 1e-3


def test_intervals_have_their_nominal_coverage() -> None:
    """Over 100 planted panels, the 95% interval of the overall effect covers the
    truth about 95 times: the influence-function standard errors are calibrated."""
    hits = []
    for seed in range(100, 200):
        frame, truth = simulate(seed, growing_effect)
        hits.append(covers(aggregate_simple(group_time_att(frame, SITES)).overall, truth))
    assert 0.90 <= np.mean(hits) <= 0.99


def null_panel(seed: int, n_sites: int = 30, n_weeks: int = 30) -> pl.DataFrame:
    """Weekly rates of a few dozen sites, most trained alone in their week, no effect and
    parallel trends: the demo's shape, where only the test's size is at stake."""
    rng = np.random.default_rng(seed)
    rate = rng.normal(0.7, 0.08, n_sites)[:, None] + rng.normal(0, 0.04, (n_sites, n_weeks))
    cohort = np.where(np.arange(n_sites) < 0.7 * n_sites, rng.integers(6, n_weeks - 1, n_sites), -1)
    weeks = [date(2024, 1, 1) + timedelta(weeks=k) for k in range(n_weeks)]
    return pl.DataFrame(
        {
            "site_id": np.repeat(np.arange(n_sites), n_weeks),
            "week": weeks * n_sites,
            "weekly_active_rate": rate.ravel(),
            "first_training_week": pl.Series(
                [weeks[c] if c >= 0 else None for c in cohort for _ in weeks], dtype=pl.Date
            ),
        }
    )


def test_small_sample_pretrend_test_holds_its_size_with_few_sites() -> None:
    """With 30 sites and 8 pre-periods the chi-squared Wald test rejects a true null
    about 30% of the time at 5% (measured); the Hotelling F version about 5-7%."""
    plain, corrected = [], []
    for seed in range(150):
        event_study = aggregate_dynamic(group_time_att(null_panel(seed), SITES), -8, 12)
        plain.append(pretrend_test(event_study).p_value < 0.05)
        corrected.append(pretrend_test(event_study, small_sample=True).p_value < 0.05)
    assert np.mean(plain) > 0.15
    assert np.mean(corrected) <= 0.10


def test_small_sample_correction_vanishes_with_many_units(never_treated: GroupTimeEffects) -> None:
    dynamic = aggregate_dynamic(never_treated)
    plain, corrected = pretrend_test(dynamic), pretrend_test(dynamic, small_sample=True)
    assert (corrected.df, corrected.df_denom) == (3, never_treated.n_units - 3)
    assert corrected.p_value == pytest.approx(plain.p_value, abs=5e-3)  # 500 counties: 0.0647 against 0.0621


# --- input checks ----------------------------------------------------------------------


def set_where(df: pl.DataFrame, condition: pl.Expr, column: str, value: object) -> pl.DataFrame:
    """mpdta with `column` set to `value` on the rows matching `condition`."""
    return df.with_columns(pl.when(condition).then(value).otherwise(pl.col(column)).alias(column))


def test_units_treated_from_the_first_period_are_dropped(mpdta: pl.DataFrame) -> None:
    moved = set_where(mpdta, pl.col("countyreal") == 8001, "first.treat", 2003)
    assert group_time_att(moved, MPDTA_COLUMNS).n_dropped_units == 1


def test_treatment_after_the_panel_counts_as_never(mpdta: pl.DataFrame) -> None:
    moved = set_where(mpdta, pl.col("first.treat") == 2007, "first.treat", 2009)
    effects = group_time_att(moved, MPDTA_COLUMNS, control_group="nevertreated")
    assert set(effects.to_frame()["group"]) == {2004, 2006}
    assert cell(effects, 2004, 2004)["n_control"] == 309 + 131


def one_county_short(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(~((pl.col("countyreal") == 8001) & (pl.col("year") == 2007)))


def one_row_twice(df: pl.DataFrame) -> pl.DataFrame:
    return df.vstack(df.head(1))


def treatment_year_varies_within_a_county(df: pl.DataFrame) -> pl.DataFrame:
    return set_where(df, pl.col("year") == 2003, "first.treat", 2006)


def treatment_between_periods(df: pl.DataFrame) -> pl.DataFrame:
    return set_where(df, pl.col("first.treat") == 2006, "first.treat", 2005.5)


def outcome_missing_in_a_year(df: pl.DataFrame) -> pl.DataFrame:
    return set_where(df, pl.col("year") == 2005, "lemp", None)


def no_outcome_column(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop("lemp")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (one_county_short, "not balanced"),
        (one_row_twice, "not balanced"),
        (treatment_year_varies_within_a_county, "constant within"),
        (treatment_between_periods, "2005.5 is not one of the panel's periods"),
        (outcome_missing_in_a_year, "null or non-finite"),
        (no_outcome_column, "missing column"),
    ],
)
def test_bad_panels_are_refused_with_a_precise_message(
    mpdta: pl.DataFrame, damage: Callable[[pl.DataFrame], pl.DataFrame], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        group_time_att(damage(mpdta), MPDTA_COLUMNS)


def test_never_treated_controls_need_never_treated_units(mpdta: pl.DataFrame) -> None:
    everyone_treated = mpdta.filter(pl.col("first.treat") > 0)
    with pytest.raises(ValueError, match="no unit is never treated"):
        group_time_att(everyone_treated, MPDTA_COLUMNS, control_group="nevertreated")
    # Not-yet-treated controls still work: the 2007 cohort serves until 2006.
    effects = group_time_att(everyone_treated, MPDTA_COLUMNS)
    assert effects.to_frame()["period"].max() == 2006


def test_unknown_options_are_refused(mpdta: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="control_group"):
        group_time_att(mpdta, MPDTA_COLUMNS, control_group="everyone")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="base_period"):
        group_time_att(mpdta, MPDTA_COLUMNS, base_period="fixed")  # type: ignore[arg-type]
