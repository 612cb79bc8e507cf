"""A realistic, seeded synthetic input folder (CONTRACT.md, "Input folder"), with the truth planted in it.

The same arguments give byte-identical files. Users are simulated in chunks, so 200,000 users
(about a hundred million events) fit in a few GB. The pieces, one job each:

    demo_world     who the sites and users are, and the fate planted in each
    demo_activity  weekly probabilities of use, events drawn from them, the true training effect
    demo_events    monthly Parquet files and the legacy CSV export, with duplicates and bad rows
    demo_tickets   tickets, with free text full of fake patient identifiers
    demo_tables    sites, users, trainings and the truth files
    demo_journey   features, and where adoption journeys stall (planted on event names only)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from pipelines.demo.activity import TrainingTruth, latent_weeks, sample_events, site_week_factors
from pipelines.demo.events import EventWriter
from pipelines.demo.journey import JourneyPlan, features_frame, plan_journey, plant_journey, truth_journey_frame
from pipelines.demo.tables import (
    sites_frame,
    trainings_frame,
    truth_frame,
    truth_sites_frame,
    truth_training_frame,
    users_frame,
)
from pipelines.demo.tickets import tickets_frame
from pipelines.demo.world import Calendar, World, id_digits, plan_world

CHUNK_USERS = 5_000
MIN_WEEKS = 16  # room for go-live, a training and a drop; below ~26 weeks baselines get shorter than 8 weeks
EVENTS_SHARE = 0.9  # of the progress bar


@dataclass(frozen=True)
class DemoSummary:
    """What `write_demo` wrote: rows per file, distinct events, and the planted training effect."""

    out_dir: Path
    sites: int
    users: int  # rows of users.csv, bad rows included
    events: int  # distinct events simulated
    event_rows: int  # rows under events/: re-deliveries, repeats and bad rows included
    tickets: int
    trainings: int
    training_effect: float  # true overall effect of training on the weekly active rate


def write_demo(
    out_dir: Path,
    users: int = 2000,
    sites: int = 30,
    weeks: int = 52,
    seed: int = 7,
    end_date: date = date(2026, 11, 15),
    progress: Callable[[str, float], None] | None = None,
) -> DemoSummary:
    """Write sites.csv, users.csv, events/, tickets.jsonl, trainings.csv, features.csv and the
    truth*.csv files.

    `end_date` is a Sunday, the last day with events. `progress(stage, fraction)` gets the fraction
    of the whole job done.
    """
    if sites < 1 or users < sites:
        raise ValueError(f"need at least one site and one user per site, got {users} users for {sites} sites")
    if weeks < MIN_WEEKS:
        raise ValueError(f"weeks must be at least {MIN_WEEKS}, got {weeks}")
    report = progress or (lambda stage, fraction: None)
    # a stream added later comes last, so the streams before it (and what they draw) stay as they were
    plan_seed, event_seed, bad_event_seed, ticket_seed, table_seed, journey_seed = np.random.SeedSequence(seed).spawn(6)
    world = plan_world(np.random.default_rng(plan_seed), Calendar.ending(end_date, weeks), users, sites)
    journey_plan_seed, journey_event_seed = journey_seed.spawn(2)
    journey = plan_journey(np.random.default_rng(journey_plan_seed), world)
    n_bad = max(2, int(math.log10(users)))  # bad rows of each kind, growing gently with size
    user_digits = id_digits(users + 3 * n_bad, 6)
    site_digits = id_digits(sites, 3)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report("plan", 0.02)

    table_rng = np.random.default_rng(table_seed)
    sites_frame(table_rng, world, site_digits).write_csv(out_dir / "sites.csv")
    users_table = users_frame(table_rng, world, user_digits, site_digits, n_bad)
    users_table.write_csv(out_dir / "users.csv")
    trainings = trainings_frame(table_rng, world, user_digits, site_digits, n_bad)
    trainings.write_csv(out_dir / "trainings.csv")
    features_frame().write_csv(out_dir / "features.csv")
    report("tables", 0.05)

    truth = TrainingTruth(sites, weeks)
    with EventWriter(out_dir / "events", world, user_digits, site_digits) as writer:
        _simulate_events(world, journey, (event_seed, journey_event_seed), writer, truth, report)
        writer.write_bad_rows(np.random.default_rng(bad_event_seed), n_bad)

    tickets = tickets_frame(np.random.default_rng(ticket_seed), world, user_digits, site_digits, n_bad)
    tickets.write_ndjson(out_dir / "tickets.jsonl")
    report("tickets", 0.97)

    overall, event_weeks, effects = truth.effects(world.sites.train_week)
    truth_frame(world, user_digits).write_csv(out_dir / "truth.csv")
    truth_sites_frame(world, site_digits).write_csv(out_dir / "truth_sites.csv")
    truth_training_frame(overall, event_weeks, effects).write_csv(out_dir / "truth_training.csv")
    truth_journey_frame(world, journey, user_digits, site_digits).write_csv(out_dir / "truth_journey.csv")
    report("truth", 1.0)
    return DemoSummary(
        out_dir=out_dir,
        sites=sites,
        users=users_table.height,
        events=writer.events,
        event_rows=writer.parquet_rows + writer.legacy_rows,
        tickets=tickets.height,
        trainings=trainings.height,
        training_effect=overall,
    )


def _simulate_events(
    world: World,
    journey: JourneyPlan,
    seeds: tuple[np.random.SeedSequence, np.random.SeedSequence],
    writer: EventWriter,
    truth: TrainingTruth,
    report: Callable[[str, float], None],
) -> None:
    """Chunk by chunk of users: latent weeks, then events, then the journey's names; each chunk
    has its own random streams."""
    calendar, sites = world.calendar, world.sites
    factor = site_week_factors(calendar, sites)
    starts = range(0, len(world.users), CHUNK_USERS)
    event_seeds, name_seeds = (seed.spawn(len(starts)) for seed in seeds)
    for chunk_seed, name_seed, start in zip(event_seeds, name_seeds, starts, strict=True):
        rng = np.random.default_rng(chunk_seed)
        chunk = world.users.take(slice(start, start + CHUNK_USERS))
        latent = latent_weeks(chunk, sites, calendar.weeks, factor)
        truth.add(chunk, latent)
        events = sample_events(rng, calendar, chunk, start, latent)
        writer.write(rng, plant_journey(np.random.default_rng(name_seed), world, journey, events))
        report("events", 0.05 + EVENTS_SHARE * min(start + CHUNK_USERS, len(world.users)) / len(world.users))
