"""Refresh while serving, and builds killed at any point, with real processes.

Every kill starts from a copy of one built demo (the session's `demos` cache), so the
"previous file" is built once, not once per kill."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from metrics.stages import BUILD_STAGES
from pipelines.build import build
from tests.support import ADOPTION, READER, TINY, copy_db, table_contents
from tests.support.demos import Demo, DemoCache

pytestmark = pytest.mark.slow


def _hammer(url: str, stop: threading.Event, outcomes: list[int]) -> None:
    """A bounded loop of page requests on loopback, as browsers would send them."""
    for _ in range(5000):
        if stop.is_set():
            return
        for path in ("/", "/_dash-layout"):
            try:
                with urllib.request.urlopen(url + path, timeout=30) as response:
                    outcomes.append(response.status)
            except Exception:  # noqa: BLE001 - any failure counts as one
                outcomes.append(0)
        time.sleep(0.02)


def test_app_and_reader_keep_working_while_the_file_is_rebuilt(tmp_path: Path) -> None:
    from tests.support.serving import served

    source, db, stop_reader = tmp_path / "input", tmp_path / "x.duckdb", tmp_path / "stop"
    shutil.copytree(TINY, source)
    assert subprocess.run([ADOPTION, "build", "--input", str(source), "--db", str(db)], capture_output=True).returncode == 0
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop_reader)], stdout=subprocess.PIPE, text=True)
    with served(db) as url:
        stop, outcomes = threading.Event(), []
        hammer = threading.Thread(target=_hammer, args=(url, stop, outcomes))
        hammer.start()
        builds = []
        for monday, sunday in [("01-22", "01-28"), ("01-29", "02-04"), ("02-05", "02-11")]:  # one more week each
            with open(source / "events" / "a.csv", "a") as events:
                events.write(f"u1,2024-{monday}T10:00:00Z,open,a{monday},s1\nu1,2024-{sunday}T10:00:00Z,open,b{sunday},s1\n")
            builds.append(subprocess.run([ADOPTION, "build", "--input", str(source), "--db", str(db)],
                                         capture_output=True, text=True))
        time.sleep(0.5)
        stop.set()
        hammer.join()
        with urllib.request.urlopen(url + "/_dash-layout", timeout=30) as response:
            assert response.status == 200
    stop_reader.touch()
    out, _ = reader.communicate(timeout=60)
    assert [b.returncode for b in builds] == [0, 0, 0], [b.stderr for b in builds]
    assert len(outcomes) > 20 and outcomes.count(200) == len(outcomes), f"{outcomes.count(0)} failed requests"
    assert reader.returncode == 0 and int(out) > 20
    with duckdb.connect(str(db), read_only=True) as con:  # what the app reads now is the newest build
        assert con.execute("select count(*) from build_runs").fetchall() == [(4,)]
        assert con.execute("select max(week) from user_weeks").fetchall()[0][0].isoformat() == "2024-02-05"


KILL_AT = ["load", "model staging.", "model core.event_days", "model main.", "score users", "write the file"]


@pytest.fixture(scope="module")
def previous(demos: DemoCache) -> Demo:
    """The demo's input and the file a killed build must leave as it was (each test copies it)."""
    return demos(seed=2, users=500, sites=10)


@pytest.fixture(scope="module")
def before(previous: Demo) -> dict[str, list[tuple]]:
    return table_contents(previous.db)


@pytest.mark.parametrize("step", KILL_AT)
def test_build_killed_at_a_step_leaves_the_previous_file(previous: Demo, before: dict, tmp_path: Path,
                                                         step: str) -> None:
    demo_input, db = previous.input, copy_db(previous.db, tmp_path / "x.duckdb")
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from metrics.stages import BUILD_STAGES
        from pipelines.build import build
        def die(description, step, total):
            if description.startswith({step!r}):
                os.kill(os.getpid(), signal.SIGKILL)
        build(Path({str(demo_input)!r}), Path({str(db)!r}), stages=BUILD_STAGES, on_step=die)
    """)
    assert subprocess.run([sys.executable, "-c", script], capture_output=True).returncode == -signal.SIGKILL
    assert table_contents(db) == before
    build(demo_input, db, stages=BUILD_STAGES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.duckdb"]


@pytest.mark.parametrize("after_seconds", [0.3, 0.8, 1.5, 2.5])
def test_build_killed_at_any_moment_leaves_a_readable_file(previous: Demo, before: dict, tmp_path: Path,
                                                           after_seconds: float) -> None:
    demo_input, db = previous.input, copy_db(previous.db, tmp_path / "x.duckdb")
    process = subprocess.Popen([ADOPTION, "build", "--input", str(demo_input), "--db", str(db)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after_seconds)
    process.kill()
    process.wait()
    after = table_contents(db)  # the old build, or a complete new one if it had finished
    assert after == before or (after.keys() == before.keys() and len(after["main.build_runs"]) == 2)
