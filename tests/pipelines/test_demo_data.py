"""The demo generator plants what the models must find, and the folder keeps the contract's shape.

One small demo (300 users, 10 sites, 52 weeks) is generated once per module and read back from the
files themselves, as the loader would read them.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.demo.generate import DemoSummary, write_demo

SMALL = {"users": 300, "sites": 10, "weeks": 52, "seed": 3}
END = date(2026, 11, 15)
MS_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"
SECONDS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MRN = re.compile(r"MRN \d{8}")
PATIENT = re.compile(r"Patient: [A-Z][a-z]+ [A-Z][a-z]+ DOB \d{4}-\d{2}-\d{2}")
NHS = re.compile(r"NHS 999 \d{3} \d{4}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary, list[tuple[str, float]]]:
    calls: list[tuple[str, float]] = []
    out = tmp_path_factory.mktemp("demo")
    summary = write_demo(out, **SMALL, progress=lambda stage, fraction: calls.append((stage, fraction)))
    return out, summary, calls


@pytest.fixture(scope="module")
def folder(demo: tuple) -> Path:
    return demo[0]


def _utc(column: str, fmt: str) -> pl.Expr:
    return pl.col(column).str.strptime(pl.Datetime("ms", "UTC"), fmt, strict=False)


def _csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _parquet_events(folder: Path) -> pl.DataFrame:
    return pl.read_parquet(folder / "events" / "*.parquet", include_file_paths="file")


def _legacy(folder: Path) -> pl.DataFrame:
    return _csv(folder / "events" / "legacy_export.csv").with_columns(_utc("timestamp", MS_FORMAT).alias("at"))


def _all_events(folder: Path) -> pl.DataFrame:
    """Every readable event with a known user, from both sources: user_id and timestamp."""
    parquet = _parquet_events(folder).select("user_id", "timestamp")
    legacy = _legacy(folder).select("user_id", pl.col("at").alias("timestamp")).drop_nulls()
    return pl.concat([parquet, legacy])


def _users(folder: Path) -> pl.DataFrame:
    return _csv(folder / "users.csv").with_columns(
        _utc("invited_at", SECONDS_FORMAT).alias("invited"), _utc("deactivated_at", SECONDS_FORMAT).alias("deactivated")
    )


def _truth(folder: Path) -> pl.DataFrame:
    return _csv(folder / "truth.csv").with_columns(pl.col("drop_week").str.to_date())


def _weekly(folder: Path) -> pl.DataFrame:
    """Events per user and Monday-starting week, with the user's truth."""
    return (
        _all_events(folder)
        .with_columns(pl.col("timestamp").dt.truncate("1w").dt.date().alias("week"))
        .group_by("user_id", "week")
        .len("events")
        .join(_truth(folder), on="user_id")
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(folder: Path, tmp_path: Path) -> None:
    write_demo(tmp_path, **SMALL)
    assert _files(tmp_path) == _files(folder)


def test_another_seed_gives_other_files(folder: Path, tmp_path: Path) -> None:
    write_demo(tmp_path, **{**SMALL, "seed": SMALL["seed"] + 1})
    theirs, ours = _files(tmp_path), _files(folder)
    assert {"users.csv", "tickets.jsonl", "events/legacy_export.csv"} <= {f for f in ours if theirs.get(f) != ours[f]}


def test_the_folder_has_the_contract_items(folder: Path) -> None:
    expected = {
        "sites.csv",
        "users.csv",
        "tickets.jsonl",
        "trainings.csv",
        "truth.csv",
        "truth_sites.csv",
        "truth_training.csv",
    }
    assert expected <= {p.name for p in folder.iterdir()}
    assert len(list((folder / "events").glob("*.parquet"))) >= 4
    assert _csv(folder / "sites.csv").columns == [
        "site_id",
        "name",
        "region",
        "go_live_date",
        "licensed_seats",
        "owner",
    ]
    assert _csv(folder / "users.csv").columns == ["user_id", "site_id", "role", "invited_at", "deactivated_at"]
    assert _csv(folder / "trainings.csv").columns == ["site_id", "session_date", "user_id", "kind", "attended"]


def test_parquet_events_have_typed_columns_and_string_ids(folder: Path) -> None:
    events = _parquet_events(folder)
    assert events.schema["timestamp"] == pl.Datetime("ms", "UTC")
    assert events.schema["event_id"] == pl.String
    assert events["event_id"].str.contains(r"^e\d{9}$").all()
    assert events["user_id"].str.contains(r"^u\d{6}$").all()
    assert events["site_id"].str.contains(r"^s\d{3}$").all()
    assert events["properties"].str.json_decode().struct.field("device").is_in(["desktop", "tablet", "mobile"]).all()


def test_sites_have_a_csm_for_every_five_to_eight(folder: Path) -> None:
    owners = _csv(folder / "sites.csv")["owner"]
    assert owners.str.contains(r"^csm\d+@vendor\.example$").all()
    assert 10 / 8 <= owners.n_unique() <= 10 / 5 + 1


def test_every_kind_is_planted(folder: Path) -> None:
    kinds = set(_truth(folder)["kind"])
    assert kinds == {
        "steady", "light_steady", "silent_stop", "silent_fade", "ticketed_drop",
        "never_activated", "new", "deactivated", "dip_recovered",
    }  # fmt: skip


def test_drop_weeks_are_mondays_four_to_twelve_weeks_before_the_end(folder: Path) -> None:
    truth = _truth(folder)
    droppers = truth.filter(pl.col("kind").is_in(["silent_stop", "silent_fade", "ticketed_drop"]))
    assert droppers["drop_week"].dt.weekday().eq(1).all()
    weeks_left = ((END + timedelta(days=1)) - droppers["drop_week"]).dt.total_days() // 7
    assert weeks_left.is_between(4, 12).all()
    assert truth.filter(pl.col("kind").is_in(["steady", "new", "never_activated"]))["drop_week"].is_null().all()


def test_never_activated_users_have_no_events(folder: Path) -> None:
    never = _truth(folder).filter(pl.col("kind") == "never_activated")["user_id"]
    assert len(never) > 0
    assert _all_events(folder).filter(pl.col("user_id").is_in(never.implode())).is_empty()


def test_events_start_after_invitation_and_end_before_deactivation(folder: Path) -> None:
    joined = _all_events(folder).join(_users(folder).drop_nulls("invited"), on="user_id")
    assert joined.height > 0
    assert (joined["timestamp"] > joined["invited"]).all()
    deactivated = joined.drop_nulls("deactivated")
    assert deactivated.height > 0
    assert (deactivated["timestamp"] < deactivated["deactivated"]).all()


def test_no_event_after_the_end_date(folder: Path) -> None:
    assert _all_events(folder)["timestamp"].max().date() == END


def test_silent_droppers_file_no_ticket_from_two_weeks_before_the_drop(folder: Path) -> None:
    tickets = pl.read_ndjson(folder / "tickets.jsonl").with_columns(_utc("created_at", SECONDS_FORMAT).alias("created"))
    silent = _truth(folder).filter(pl.col("kind").is_in(["silent_stop", "silent_fade"]))
    late = tickets.join(silent, on="user_id").filter(
        pl.col("created").dt.date() >= pl.col("drop_week") - timedelta(days=14)
    )
    assert late.is_empty()


def test_ticketed_droppers_file_a_ticket_within_a_week_of_the_drop(folder: Path) -> None:
    tickets = pl.read_ndjson(folder / "tickets.jsonl").with_columns(_utc("created_at", SECONDS_FORMAT).alias("created"))
    ticketed = _truth(folder).filter(pl.col("kind") == "ticketed_drop")
    near = tickets.join(ticketed, on="user_id").filter(
        (pl.col("created").dt.date() - pl.col("drop_week")).dt.total_days().is_between(-7, 7)
    )
    assert set(near["user_id"]) == set(ticketed["user_id"])


def test_other_users_file_occasional_tickets(folder: Path) -> None:
    tickets = pl.read_ndjson(folder / "tickets.jsonl")
    steady = _truth(folder).filter(pl.col("kind") == "steady")
    filing = tickets.join(steady, on="user_id")["user_id"].n_unique()
    assert 0.05 < filing / steady.height < 0.6
    assert tickets.filter(pl.col("user_id").is_null() & pl.col("site_id").is_not_null()).height > 0


def test_stopped_users_stop_and_faded_users_fade_from_a_visible_baseline(folder: Path) -> None:
    weekly = _weekly(folder).filter(pl.col("kind").is_in(["silent_stop", "silent_fade", "ticketed_drop"]))
    before = pl.col("week") < pl.col("drop_week")
    baseline_window = before & (pl.col("week") >= pl.col("drop_week") - timedelta(weeks=8))
    per_user = weekly.group_by("user_id", "kind").agg(
        (pl.col("events").filter(baseline_window).sum() / 8).alias("baseline"),
        pl.col("events").filter(~before).sum().alias("after"),
        ((pl.col("drop_week").first() - pl.lit(END)).dt.total_days().abs() // 7 + 1).alias("weeks_after"),
    )
    assert per_user["baseline"].median() >= 5
    stopped = per_user.filter(pl.col("kind") == "silent_stop")
    assert stopped["after"].sum() == 0
    faded = per_user.filter(pl.col("kind") == "silent_fade")
    ratio = faded["after"] / faded["weeks_after"] / faded["baseline"]
    assert faded["baseline"].median() >= 10
    assert 0.03 < ratio.median() < 0.35


def test_dip_recovered_users_come_back_to_their_baseline(folder: Path) -> None:
    weekly = _weekly(folder).filter(pl.col("kind") == "dip_recovered")
    recent = (
        weekly.filter(pl.col("week") >= END - timedelta(days=27)).group_by("user_id").agg(pl.col("events").sum() / 4)
    )
    baseline = weekly.filter(
        pl.col("week").is_between(pl.col("drop_week") - timedelta(weeks=8), pl.col("drop_week"), closed="left")
    )
    baseline = baseline.group_by("user_id").agg((pl.col("events").sum() / 8).alias("baseline"))
    both = recent.join(baseline, on="user_id")
    assert (both["events"] / both["baseline"]).median() > 0.6


def test_weekday_rhythm(folder: Path) -> None:
    days = _all_events(folder).group_by(pl.col("timestamp").dt.weekday().alias("day")).len()
    weekday = days.filter(pl.col("day") <= 5)["len"].sum() / 5
    weekend = days.filter(pl.col("day") >= 6)["len"].sum() / 2
    assert weekday > 3 * weekend


def test_the_christmas_week_is_a_dip_across_live_sites(tmp_path: Path) -> None:
    # a history ending in June puts Christmas in the middle, when most sites are live
    write_demo(tmp_path, **{**SMALL, "end_date": date(2026, 6, 28)})
    christmas, new_year = date(2025, 12, 22), date(2025, 12, 29)
    around = [
        christmas - timedelta(weeks=2),
        christmas - timedelta(weeks=1),
        new_year + timedelta(weeks=1),
        new_year + timedelta(weeks=2),
    ]
    sites = (
        _parquet_events(tmp_path)
        .with_columns(pl.col("timestamp").dt.truncate("1w").dt.date().alias("week"))
        .group_by("site_id")
        .agg(
            (pl.col("week") == christmas).sum().alias("holiday"),
            (pl.col("week").is_in(around).sum() / len(around)).alias("usual"),
        )
    )
    live = _csv(tmp_path / "sites.csv").filter(pl.col("go_live_date").str.to_date() < around[0])
    sites = sites.join(live, on="site_id")
    assert sites.height >= 5
    assert sites["holiday"].sum() < 0.6 * sites["usual"].sum()
    # small sites are bursty (a few heavy users), so a site or two may not show it on its own
    assert (sites["holiday"] < sites["usual"]).mean() >= 0.8


def test_redelivered_events_repeat_their_event_id_sometimes_in_another_file(folder: Path) -> None:
    events = _parquet_events(folder)
    repeated = (
        events.group_by("event_id").agg(pl.len(), pl.col("file").n_unique().alias("files")).filter(pl.col("len") > 1)
    )
    assert 0.003 < repeated.height / events["event_id"].n_unique() < 0.012
    assert (repeated["files"] > 1).any()


def test_the_legacy_export_has_no_event_id_and_a_few_whole_row_repeats(folder: Path) -> None:
    legacy = _csv(folder / "events" / "legacy_export.csv")
    assert "event_id" not in legacy.columns
    repeats = legacy.height - legacy.unique().height
    assert 0 < repeats < 0.02 * legacy.height
    total = legacy.height + _parquet_events(folder).height
    assert 0.01 < legacy.height / total < 0.03


def test_ticket_free_text_holds_fake_patient_identifiers(folder: Path) -> None:
    tickets = pl.read_ndjson(folder / "tickets.jsonl")
    text = "\n".join(
        tickets["subject"].to_list() + tickets["description"].to_list() + tickets["comments"].drop_nulls().to_list()
    )
    assert len(MRN.findall(text)) > 10
    assert len(PATIENT.findall(text)) > 10
    assert len(NHS.findall(text)) > 10
    assert tickets["comments"].drop_nulls().len() > 0
    assert {
        "ticket_id",
        "created_at",
        "user_id",
        "site_id",
        "solved_at",
        "status",
        "priority",
        "category",
        "channel",
    } <= set(tickets.columns)


def test_the_true_training_effect_is_positive_ramps_up_and_is_zero_before(demo: tuple) -> None:
    folder, summary, _ = demo
    truth = _csv(folder / "truth_training.csv").with_columns(
        pl.col("event_week").cast(pl.Int64), pl.col("effect").cast(pl.Float64)
    )
    assert truth["outcome"].unique().to_list() == ["weekly_active_rate"]
    overall = truth.filter(pl.col("event_week").is_null())["effect"].item()
    by_week = dict(truth.drop_nulls("event_week").select("event_week", "effect").iter_rows())
    assert set(by_week) <= set(range(-8, 13)) and {-1, 0, 1, 2} <= set(by_week)
    assert all(by_week[k] == 0 for k in by_week if k < 0)
    assert 0 < by_week[0] < by_week[1] < by_week[2]
    # the overall effect averages weeks 0, 1, 2, ... (most of them fully ramped), never above the largest lift
    post = [v for k, v in by_week.items() if k >= 0]
    assert min(post) < overall <= max(post) * 1.1
    assert 0 < overall < 0.35
    assert overall == pytest.approx(summary.training_effect, abs=1e-6)


def test_trained_sites_have_a_whole_site_session_and_attendance_rows(folder: Path) -> None:
    sites = _csv(folder / "truth_sites.csv")
    trained = sites.drop_nulls("first_training_date")
    assert 0.3 <= trained.height / sites.height <= 0.95
    assert sites["is_struggling"].is_in(["true"]).any()
    trainings = _csv(folder / "trainings.csv")
    first = trainings.join(trained, left_on=["site_id", "session_date"], right_on=["site_id", "first_training_date"])
    whole_site = first.filter(pl.col("user_id").is_null())
    assert sorted(whole_site["site_id"]) == sorted(trained["site_id"])
    assert first.filter(pl.col("user_id").is_not_null())["site_id"].n_unique() == trained.height
    assert set(trainings["attended"]) == {"true", "false"}


def test_bad_rows_are_few_and_of_every_kind(folder: Path) -> None:
    legacy = _legacy(folder)
    user_ids = _csv(folder / "users.csv")["user_id"].implode()
    tickets = pl.read_ndjson(folder / "tickets.jsonl")
    trainings = _csv(folder / "trainings.csv")
    counts = {
        "unparseable event timestamp": legacy.filter(pl.col("at").is_null()).height,
        "empty event user_id": legacy.filter(pl.col("user_id").is_null()).height,
        "unknown event user": legacy.filter(
            pl.col("user_id").is_not_null() & ~pl.col("user_id").is_in(user_ids)
        ).height,
        "orphan ticket": tickets.filter(pl.col("user_id").is_null() & pl.col("site_id").is_null()).height,
        "invalid session_date": trainings.filter(pl.col("session_date").str.to_date(strict=False).is_null()).height,
        "invalid invited_at": _users(folder).filter(pl.col("invited").is_null()).height,
    }
    assert all(n >= 1 for n in counts.values()), counts
    assert 6 <= sum(counts.values()) <= 40


def test_the_summary_counts_what_was_written(demo: tuple) -> None:
    folder, summary, _ = demo
    assert summary.out_dir == folder
    assert summary.users == _csv(folder / "users.csv").height
    assert summary.sites == _csv(folder / "sites.csv").height == SMALL["sites"]
    assert summary.tickets == pl.read_ndjson(folder / "tickets.jsonl").height
    assert summary.trainings == _csv(folder / "trainings.csv").height
    assert summary.event_rows == _parquet_events(folder).height + _csv(folder / "events" / "legacy_export.csv").height
    assert summary.events < summary.event_rows


def test_progress_rises_to_one(demo: tuple) -> None:
    fractions = [fraction for _, fraction in demo[2]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "events" in {stage for stage, _ in demo[2]}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"end_date": date(2026, 11, 14)}, "not a Sunday"),
        ({"weeks": 12}, "weeks"),
        ({"users": 5, "sites": 10}, "one user per site"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_demo(tmp_path, **{**SMALL, **arguments})


def test_the_planted_training_effect_shows_in_the_data(tmp_path: Path) -> None:
    # an independent check of truth_training.csv: a plain difference-in-differences on the written files,
    # trained sites against never-trained ones, each site's weeks -8..-1 as its own baseline
    write_demo(tmp_path, users=4000, sites=24, seed=11)
    users = _users(tmp_path).drop_nulls("invited")
    weeks = pl.DataFrame({"week": pl.date_range(END - timedelta(weeks=52) + timedelta(days=1), END, "1w", eager=True)})
    enrolled = users.join(weeks, how="cross").filter(
        (pl.col("week") >= pl.col("invited").dt.truncate("1w").dt.date())
        & (pl.col("deactivated").is_null() | (pl.col("week") < pl.col("deactivated").dt.truncate("1w").dt.date()))
    )
    active = _weekly(tmp_path).select("user_id", "week", pl.lit(1).alias("active"))
    rates = (
        enrolled.join(active, on=["user_id", "week"], how="left")
        .group_by("site_id", "week")
        .agg(pl.col("active").fill_null(0).mean().alias("rate"))
        .join(
            _csv(tmp_path / "truth_sites.csv").with_columns(pl.col("first_training_date").str.to_date()), on="site_id"
        )
    )
    control = (
        rates.filter(pl.col("first_training_date").is_null())
        .group_by("week")
        .agg(pl.col("rate").mean().alias("control"))
    )
    gaps = (
        rates.drop_nulls("first_training_date")
        .join(control, on="week")
        .with_columns(
            ((pl.col("week") - pl.col("first_training_date").dt.truncate("1w")).dt.total_days() // 7).alias("since"),
            (pl.col("rate") - pl.col("control")).alias("gap"),
        )
    )
    baseline = (
        gaps.filter(pl.col("since").is_between(-8, -1)).group_by("site_id").agg(pl.col("gap").mean().alias("base"))
    )
    observed = gaps.join(baseline, on="site_id").filter(pl.col("since").is_between(2, 12))
    estimate = (observed["gap"] - observed["base"]).mean()
    truth = _csv(tmp_path / "truth_training.csv").with_columns(
        pl.col("event_week").cast(pl.Int64), pl.col("effect").cast(pl.Float64)
    )
    planted = truth.filter(pl.col("event_week").is_between(2, 12))["effect"].mean()
    assert estimate == pytest.approx(planted, abs=0.03)
