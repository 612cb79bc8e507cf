"""Scoring time against the number of users: it should grow linearly.

Synthetic weekly histories (52 weeks, bursty counts, a tenth of users dropping) for each size,
scored by the same function the build calls. Run: python benchmarks/scoring_scale.py --users 10000,100000,1000000
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from metrics.quiet.quiet_users import score_users

AS_OF = date(2026, 11, 9)
WEEKS = 52


def synthetic(n_users: int, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """user_weeks, facts and tickets frames shaped as the build makes them."""
    rng = np.random.default_rng(seed)
    rate = rng.lognormal(2.3, 0.8, n_users)
    level = np.where(rng.random(n_users) < 0.1, rng.uniform(0.0, 0.25, n_users), 1.0)
    drop_at = rng.integers(WEEKS - 12, WEEKS - 3, n_users)
    week = np.arange(WEEKS)
    mean = rate[:, None] * rng.gamma(4.0, 0.25, (n_users, WEEKS)) * np.where(week >= drop_at[:, None], level[:, None], 1.0)
    events = np.where(rng.random((n_users, WEEKS)) < 0.9, rng.poisson(mean), 0)
    first = AS_OF - timedelta(weeks=WEEKS - 1)
    user_ids = np.char.add("u", np.arange(n_users).astype(str))
    weeks = pl.DataFrame({
        "user_id": np.repeat(user_ids, WEEKS),
        "site_id": np.repeat(np.char.add("s", (np.arange(n_users) % max(n_users // 100, 1)).astype(str)), WEEKS),
        "week": np.tile(np.array([first + timedelta(weeks=int(w)) for w in week], dtype="datetime64[D]"), n_users),
        "events": events.ravel(),
        "active_days": np.minimum(events, 5).ravel(),
        "is_enrolled": np.ones(n_users * WEEKS, dtype=bool),
    })
    start = datetime.combine(first, datetime.min.time())
    active = events > 0
    last = np.where(active.any(axis=1), WEEKS - 1 - np.argmax(active[:, ::-1], axis=1), -1)
    facts = pl.DataFrame({
        "user_id": user_ids, "site_id": weeks["site_id"][::WEEKS], "role": "clinician",
        "invited_at": start, "deactivated_at": None,
        "first_active_at": start, "last_active_at": [start + timedelta(weeks=int(w)) if w >= 0 else None for w in last],
        "last_ticket_at": None, "trained": False,
    }, schema_overrides={"deactivated_at": pl.Datetime("us"), "last_ticket_at": pl.Datetime("us"),
                         "last_active_at": pl.Datetime("us"), "invited_at": pl.Datetime("us"),
                         "first_active_at": pl.Datetime("us")})
    tickets = pl.DataFrame(schema={"user_id": pl.String, "created_at": pl.Datetime("us"), "category": pl.String})
    return weeks, facts, tickets


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM its peak), in MB."""
    for line in open("/proc/self/status"):
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_size(n: int) -> str:
    """Score n synthetic users in this process; a table row.

    The peak is the kernel's high-water mark, reset once the input is made (the process's own
    maximum would be the moment the synthetic input was made, which holds every user id as a
    numpy string many times). No thread samples it, so nothing shares the cores with the scoring.
    """
    weeks, facts, tickets = synthetic(n)
    before = _status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset VmHWM to the resident size now
    start = time.perf_counter()
    score_users(facts, weeks, tickets, AS_OF)
    seconds = time.perf_counter() - start
    return f"| {n:,} | {seconds:.1f} | {seconds / n * 100_000:.2f} | {before:.0f} | {_status_mb('VmHWM'):.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="10000,100000,1000000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in a fresh process
    args = parser.parse_args()
    if args.one:
        print(one_size(args.one), flush=True)
        return
    print("| users | scoring (s) | seconds per 100k users | RSS with the input loaded (MB) | peak RSS while scoring (MB) |\n"
          "|---|---|---|---|---|", flush=True)
    for n in [int(x) for x in args.users.split(",")]:  # a process each, so each peak is its own
        subprocess.run([sys.executable, __file__, "--one", str(n)], check=True)


if __name__ == "__main__":
    main()
