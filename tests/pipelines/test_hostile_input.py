"""Hostile input: whatever the files hold, the build loads or quarantines every row and says
why, or stops with exit 2; it never fails with a traceback, and the counts reconcile."""
from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.build import build
from pipelines.errors import InputError
from tests.support import TINY, adoption
from tests.support.hostile import NASTY_STRINGS, ODD_TIMESTAMPS

NASTY_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(NASTY_STRINGS))
TIMESTAMPS = st.one_of(st.sampled_from(ODD_TIMESTAMPS), st.datetimes().map(lambda d: d.isoformat()))


def _write(path: Path, header: list[str], rows: list[list[str]]) -> int:
    with open(path, "w", newline="", encoding="utf-8", errors="surrogatepass") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


@pytest.mark.slow  # 30 builds
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    site_names=st.lists(NASTY_TEXT, min_size=1, max_size=4),
    users=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u9", "", "U1 "]), TIMESTAMPS), max_size=6),
    events=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "ghost", ""]), TIMESTAMPS, NASTY_TEXT,
                              st.sampled_from(["e1", "e2", "", "e3"])), max_size=12),
)
def test_any_rows_are_loaded_or_quarantined(tmp_path_factory, site_names, users, events) -> None:
    folder = tmp_path_factory.mktemp("hostile")
    shutil.copytree(TINY, folder / "input")
    source = folder / "input"
    written = sum(1 for item in ["tickets.jsonl", "trainings.csv"] for _ in (source / item).read_text().splitlines())
    written -= 1  # the trainings header
    written += _write(source / "sites.csv", ["site_id", "name", "owner"],
                      [["s1", "North", "csm0@vendor.example"]] + [[f"s{i + 2}", name, name] for i, name in enumerate(site_names)])
    written += _write(source / "users.csv", ["user_id", "site_id", "invited_at"],
                      [["u1", "s1", "2024-01-01"], ["u2", "s2", "2024-01-01"]] + [[u, "s1", t] for u, t in users])
    shutil.rmtree(source / "events")
    written += _write(source / "events.csv", ["user_id", "timestamp", "event_name", "event_id"],
                      [["u1", "2024-01-03T10:00:00Z", "open", "e0"]] + [list(e) for e in events])
    try:
        summary = build(source, folder / "db.duckdb")
    except InputError as error:
        assert str(error)  # unusable input: a message, exit 2
        return
    assert summary.rows_read == written  # every row written is counted, however odd
    assert summary.rows_loaded + summary.rows_quarantined == summary.rows_read


@pytest.mark.slow  # six `adoption build` processes
def test_fuzzed_bytes_never_crash(tmp_path: Path) -> None:
    rng = random.Random(11)
    for case in range(6):
        source = tmp_path / f"input{case}"
        shutil.copytree(TINY, source)
        target = source / rng.choice(["users.csv", "sites.csv", "trainings.csv", "tickets.jsonl", "events/a.csv"])
        data = bytearray(target.read_bytes())
        for _ in range(rng.randint(1, 40)):  # flip, insert and delete bytes
            position = rng.randrange(len(data))
            match rng.randrange(3):
                case 0:
                    data[position] = rng.randrange(256)
                case 1:
                    data.insert(position, rng.randrange(256))
                case _:
                    del data[position]
        target.write_bytes(bytes(data))
        result = adoption("build", "--input", str(source), "--db", str(tmp_path / f"x{case}.duckdb"))
        assert result.returncode in (0, 2), result.stderr
        assert "Traceback" not in result.stderr
