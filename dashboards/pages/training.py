"""`/training`: what helps, for everyone who asks "does training work?" or "does calling a
flagged user work?". The overall effect of training with its interval, the event study week
by week with the pre-trend check, how long users stay active with and without training, how
often flagged users came back with and without outreach (and, with the hold-back on, the
causal effect of outreach), and what a careful analyst would add before quoting any of it.
The estimates are portfolio-wide: they show no one site's data."""
from __future__ import annotations

from itertools import cycle

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import html

from dashboards import ui
from dashboards.wording import count, points, share, training_sentence
from metrics.readers.catalog import has_table
from metrics.readers.catalog import table_comments
from metrics.readers.outreach_views import holdback_effect, observational, outreach_outcomes
from metrics.readers.training_views import (
    event_study,
    hazard_ratio,
    headline,
    overall_estimates,
    pretrend_p_value,
    survival_curves,
    training_effects,
    training_tests,
)

dash.register_page(__name__, path="/training", name="What helps", title="Adoption Radar: what helps", order=3)

TRAINING_OVERALL = "training-overall"
TRAINING_EVENT_STUDY = "training-event-study"
TRAINING_PRETREND = "training-pretrend"
TRAINING_METHODS = "training-methods"
TRAINING_SURVIVAL = "training-survival"
TRAINING_CAVEATS = "training-caveats"
TRAINING_OUTREACH = "training-outreach"
TRAINING_OUTREACH_CHART = "training-outreach-chart"
TRAINING_HOLDBACK = "training-holdback"

TITLE = "What helps: training and outreach"
LEAD = (
    "Sites were trained in waves, the struggling ones first, so comparing trained with untrained sites mostly "
    "measures who got trained. The estimate below compares each trained site with sites not yet trained, week by "
    "week (Callaway & Sant'Anna 2021). The outcome is the share of a site's enrolled users active in a week."
)
METHOD_NAMES = {
    "callaway_santanna": "Callaway & Sant'Anna: each trained site against sites not yet trained",
    "naive_difference": "Naive: trained against untrained sites, after training",
    "twfe": "Two-way fixed effects regression",
}
CAVEATS = [
    "Training was not assigned at random. The estimate assumes that, without training, trained sites would have "
    "moved like the sites not yet trained (parallel trends); the pre-training weeks are the only check of that, "
    "and a check passed is no proof.",
    "Each interval is a 95% interval for that week alone; with 21 weeks shown, one or two may miss zero by chance.",
    "Later weeks rest on fewer sites (the sites trained earliest), so their intervals are wider.",
    "The overall effect averages the trained sites' weeks from their training on; sites trained recently add "
    "only a few weeks.",
    "The naive and fixed-effects numbers are shown to make the bias visible, not as alternatives: with struggling "
    "sites trained first and effects that grow over the weeks, they can be off in either direction, even in sign.",
    "The survival curves describe users with and without training; trained users differ in more than training "
    "(site, role, tenure), so the gap between the curves is not by itself an effect of training.",
]


@ui.guarded
def layout(**_url_args: str) -> html.Div:
    with ui.database() as con:
        info = ui.build_info(con)
        effects = training_effects(con) if has_table(con, "training_effect") else None
        tests = training_tests(con) if has_table(con, "training_tests") else None
        survival = survival_curves(con) if has_table(con, "training_survival") else None
        outreach = outreach_outcomes(con) if has_table(con, "outreach_outcomes") else None
        comments = dict(table_comments(con).iter_rows())
    if effects is None or effects.is_empty():
        estimate = ui.notice("The effect of training has not been estimated in this build: its training_effect "
                             "table is missing or empty.")
        return ui.page(TITLE, info, estimate, _survival(survival, comments.get("training_survival"), tests),
                       _outreach(outreach), _caveats(), lead=LEAD)
    return ui.page(
        TITLE,
        info,
        dbc.Alert(training_sentence(headline(effects)), color="light", className="border fs-5", id=TRAINING_OVERALL),
        _event_study(effects, tests),
        _methods(effects),
        _survival(survival, comments.get("training_survival"), tests),
        _outreach(outreach),
        _caveats(),
        lead=LEAD,
    )


def _event_study(effects: pl.DataFrame, tests: pl.DataFrame | None) -> html.Section:
    title = "Week by week, before and after the first training"
    weeks = event_study(effects)
    if weeks.is_empty():
        return ui.section(title, ui.notice("The event study was not estimated in this build."))
    before, after = weeks.filter(pl.col("event_week") < 0), weeks.filter(pl.col("event_week") >= 0)
    figure = ui.figure(
        [_points(before, "before training", ui.GREY, "circle-open"),
         _points(after, "from the training week on", ui.BLUE, "circle")],
        title="Effect on the weekly active share, with 95% intervals",
        x_title="weeks since the site's first training",
        y_title="percentage points",
        yaxis={"zeroline": True, "zerolinecolor": "black", "zerolinewidth": 1},
        shapes=[{"type": "line", "x0": -0.5, "x1": -0.5, "xref": "x", "y0": 0, "y1": 1, "yref": "paper",
                 "line": {"color": ui.GREY, "dash": "dash"}}],
        annotations=[{"x": -0.5, "xref": "x", "y": 1, "yref": "paper", "text": "first training", "showarrow": False,
                      "xanchor": "left", "yanchor": "bottom"}],
    )
    summary = (
        f"{count(before.height)} weeks before and {count(after.height)} weeks from training on. "
        + ", ".join(f"week {row['event_week']}: {points(row['estimate'])}" for row in after.iter_rows(named=True)
                    if row["event_week"] in (0, 4, 8, 12)) + " percentage points."
    )
    return ui.section(title, ui.chart(TRAINING_EVENT_STUDY, figure, summary),
                      html.P(_pretrend_words(pretrend_p_value(tests), before), id=TRAINING_PRETREND))


def _points(weeks: pl.DataFrame, name: str, colour: str, symbol: str) -> dict:
    return ui.trace(
        "scatter",
        x=weeks["event_week"],
        y=weeks["estimate"] * 100,
        name=name,
        mode="markers",
        marker={"color": colour, "symbol": symbol, "size": 9, "line": {"width": 2, "color": colour}},
        error_y={"type": "data", "array": (weeks["ci_high"] - weeks["estimate"]) * 100,
                 "arrayminus": (weeks["estimate"] - weeks["ci_low"]) * 100, "color": colour},
        customdata=weeks.select("ci_low", "ci_high", "n_units").rows(),
        hovertemplate="week %{x}: %{y:+.1f} points (95% interval %{customdata[0]:.1%} to %{customdata[1]:.1%}), "
                      "%{customdata[2]} sites<extra></extra>",
    )


def _pretrend_words(p_value: float | None, before: pl.DataFrame) -> str:
    """The pre-trend check in words: the joint test if the build ran it, else what the intervals show."""
    if p_value is not None:
        if p_value < 0.05:
            verdict = ("the trained sites were already moving apart from the others before training, so the "
                       "comparison is in doubt")
        elif p_value < 0.10:
            verdict = "weak evidence that the trained sites were already moving apart before training; read with care"
        else:
            verdict = ("no sign that the trained sites were already moving apart before training (which does not "
                       "prove they would have kept pace)")
        return (f"Pre-trend check: the joint test that every pre-training week is zero gives p = {p_value:.2f}: "
                f"{verdict}.")
    missed = before.filter((pl.col("ci_low") > 0) | (pl.col("ci_high") < 0)).height
    return (
        f"Pre-trend check: {count(missed)} of {count(before.height)} pre-training weeks have an interval that "
        "excludes zero (this build stored no joint test). Before training the effect should be zero; weeks that are "
        "not suggest the trained sites were already moving apart."
    )


def _methods(effects: pl.DataFrame) -> html.Section:
    overall = overall_estimates(effects)
    rows = [
        [METHOD_NAMES.get(row["method"], row["method"]), points(row["estimate"]),
         f"{points(row['ci_low'])} to {points(row['ci_high'])}", count(row["n_units"])]
        for row in overall.iter_rows(named=True)
    ]
    return ui.section(
        "The same question, asked three ways",
        ui.table("Overall effect on the weekly active share, in percentage points, by method.",
                 ["Method", "Effect", "95% interval", "Sites"], rows, id=TRAINING_METHODS, numeric=[1, 3]),
    )


def _survival(survival: pl.DataFrame | None, comment: str | None, tests: pl.DataFrame | None) -> html.Section:
    title = "How long users stay active, with and without training"
    if survival is None or survival.is_empty():
        return ui.section(title, ui.notice("Survival curves are not in this build: its training_survival table is "
                                           "missing or empty."))
    palette = [(ui.BLUE, "solid"), (ui.ORANGE, "dash"), (ui.GREEN, "dot"), (ui.PURPLE, "dashdot")]
    traces, words = [], []
    for (group, curve), (colour, dash_style) in zip(survival.group_by("group", maintain_order=True), cycle(palette),
                                                    strict=False):
        name = str(group[0])
        label = ui.chart_text(pl.Series([name.replace("_", " ")]))[0]
        traces += [
            ui.trace("scatter", x=curve["week"], y=curve["ci_high"], line={"width": 0, "shape": "hv"},
                     showlegend=False, hoverinfo="skip", legendgroup=name),
            ui.trace("scatter", x=curve["week"], y=curve["ci_low"], line={"width": 0, "shape": "hv"}, fill="tonexty",
                     fillcolor=_transparent(colour), showlegend=False, hoverinfo="skip", legendgroup=name),
            ui.trace("scatter", x=curve["week"], y=curve["survival"], name=label, legendgroup=name,
                     line={"color": colour, "dash": dash_style, "width": 3, "shape": "hv"},
                     customdata=curve["n_at_risk"],
                     hovertemplate="%{fullData.name}, week %{x}: %{y:.0%} (%{customdata} at risk)<extra></extra>"),
        ]
        last = curve.row(-1, named=True)
        words.append(f"{name.replace('_', ' ')}: {share(last['survival'])} after {count(last['week'])} weeks "
                     f"({count(last['n_at_risk'])} still at risk)")
    figure = ui.figure(traces, title="Share of users not gone silent (Kaplan-Meier, 95% bands)",
                       x_title="weeks since the user's first use", y_title="not gone silent",
                       yaxis={"tickformat": ".0%", "range": [0, 1.02]})
    parts = [html.P(comment, className="small") if comment else None,
             ui.chart(TRAINING_SURVIVAL, figure, "; ".join(words) + ".")]
    if tests is None:
        parts.append(ui.notice("The hazard ratio of going silent is not in this build: its training_tests table is "
                               "missing."))
    elif (ratio := hazard_ratio(tests)) is not None:
        parts.append(html.P(_hazard_words(ratio)))
    return ui.section(title, *parts)


def _hazard_words(ratio: dict) -> str:
    low, high = ratio["ci_low"], ratio["ci_high"]
    if low is None or high is None:
        verdict = "its uncertainty could not be estimated"
    elif low <= 1 <= high:
        verdict = "the interval includes 1, so no clear difference"
    else:
        verdict = f"trained users go silent {'less' if ratio['statistic'] < 1 else 'more'} often"
    interval = "" if low is None or high is None else f" (95% interval {low:.2f} to {high:.2f})"
    return (f"Cox model (a term per site): hazard ratio of going silent, trained against not yet trained, "
            f"{ratio['statistic']:.2f}{interval}: {verdict}.")


OUTCOME_LABELS = {
    "reached_will_resume": "reached: will resume",
    "reached_workflow_problem": "reached: workflow problem",
    "reached_needs_training": "reached: needs training",
    "no_answer": "no answer",
    "left_organisation": "left the organisation",
    "not_a_concern": "not a concern",
}
OUTREACH_CAVEAT = (
    "CSMs choose whom to call: they call the users they think they can win back, and they hear back from those "
    "who were coming back anyway. So the gap between contacted and not contacted flags is no effect of calling; "
    "only the hold-back below, where a random draw decides, measures one."
)


def _outreach(outcomes: pl.DataFrame | None) -> html.Section:
    """Flagged users active again within 8 weeks, by what CSMs did; the hold-back's effect when it is on."""
    title = "Does outreach help? Flagged users active again within 8 weeks"
    if outcomes is None:
        return ui.section(title, ui.notice("Outreach is not measured in this build: its outreach_outcomes table is "
                                           "missing (a file built before the reviews were copied)."), id=TRAINING_OUTREACH)
    seen = observational(outcomes)
    if seen.is_empty():
        return ui.section(title, ui.notice("No flag in the reviews store has been followed for 8 weeks yet, or the "
                                           "build found no reviews store."), id=TRAINING_OUTREACH)
    labels = [_group_label(row) for row in seen.iter_rows(named=True)]
    figure = ui.figure(
        [ui.trace("scatter", x=seen["share"] * 100, y=labels, mode="markers", marker={"color": ui.BLUE, "size": 9},
                  error_x={"type": "data", "array": (seen["ci_high"] - seen["share"]) * 100,
                           "arrayminus": (seen["share"] - seen["ci_low"]) * 100, "color": ui.BLUE},
                  customdata=seen.select("returned", "flags").rows(),
                  hovertemplate="%{y}: %{x:.0f}% (%{customdata[0]} of %{customdata[1]} flags)<extra></extra>")],
        title="Share active again within 8 weeks, with 95% intervals",
        x_title="per cent of flagged users", y_title="",
        xaxis={"range": [0, 100]}, yaxis={"autorange": "reversed"},
    )
    rows = [[label, f"{count(row['returned'])} of {count(row['flags'])}", share(row["share"]),
             f"{share(row['ci_low'])} to {share(row['ci_high'])}"]
            for label, row in zip(labels, seen.iter_rows(named=True), strict=True)]
    summary = "; ".join(f"{label}: {share(row['share'])}" for label, row in zip(labels, seen.iter_rows(named=True),
                                                                                  strict=True)) + "."
    return ui.section(
        title,
        html.P("Contacted flags count from the week of the first contact, the others from the week they were first "
               "flagged; only flags whose 8 weeks have passed are counted."),
        ui.chart(TRAINING_OUTREACH_CHART, figure, summary),
        ui.table("Flagged users active again within 8 weeks, by what CSMs did.",
                 ["Flags", "Active again", "Share", "95% interval"], rows, numeric=[1, 2]),
        ui.notice(OUTREACH_CAVEAT, tone="warning"),
        html.P(_holdback_words(holdback_effect(outcomes)), id=TRAINING_HOLDBACK),
        id=TRAINING_OUTREACH,
    )


def _group_label(row: dict) -> str:
    if row["group"] == "not_contacted":
        return "not (yet) contacted"
    return "contacted" if row["outcome"] is None else f"contacted, {OUTCOME_LABELS.get(row['outcome'], row['outcome'])}"


def _holdback_words(effect: dict | None) -> str:
    if effect is None:
        return ("The randomised hold-back is off (or has no flag followed for 8 weeks in both arms), so this page "
                "cannot say what outreach itself changes. Turned on, it keeps a random share of new flags out of "
                "queues and digests for a while, and the difference is the causal effect of outreach.")
    worked, held = effect["in_queues"], effect["held_back"]
    return (f"Causal effect of outreach (randomised hold-back): flags sent to CSMs were active again within 8 weeks "
            f"{share(worked['share'])} of the time ({count(worked['returned'])} of {count(worked['flags'])}), flags "
            f"held back at random {share(held['share'])} ({count(held['returned'])} of {count(held['flags'])}): "
            f"{points(effect['share'])} percentage points (95% interval {points(effect['ci_low'])} to "
            f"{points(effect['ci_high'])}). This counts every flag sent, called or not.")


def _transparent(colour: str) -> str:
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},0.15)"


def _caveats() -> html.Section:
    return ui.section("Before you quote these numbers", html.Ul([html.Li(text) for text in CAVEATS]),
                      id=TRAINING_CAVEATS)
