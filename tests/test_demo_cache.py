"""The session's demo cache (tests/support/demos.py): one build per distinct demo, however it is
asked for, the build's as_of part of the key, and a session that writes to a shared demo ends in
an error naming the file."""
from __future__ import annotations

from datetime import date

import pytest

from tests.support import rows
from tests.support.demos import DemoCache, fingerprint

SMALL = {"seed": 2, "users": 60, "sites": 3, "weeks": 20}  # the smallest demo write_demo accepts, about a second


def test_the_same_arguments_give_the_same_build(demos: DemoCache) -> None:
    demo = demos(**SMALL)
    built = fingerprint(demo.input.parent)
    assert demos(**SMALL, end_date=date(2026, 11, 15)) == demo  # write_demo's default, named
    assert fingerprint(demo.input.parent) == built  # neither written nor built again
    assert rows(demo.db, "select count(*) from user_status") == [(60,)]  # built with every stage: a status each


def test_as_of_is_part_of_the_key(demos: DemoCache) -> None:
    latest, earlier = demos(**SMALL), demos(**SMALL, as_of=date(2026, 9, 7))
    assert earlier.db != latest.db and earlier.input != latest.input
    assert rows(earlier.db, "select as_of from build_runs") == [(date(2026, 9, 7),)]
    assert rows(latest.db, "select as_of from build_runs") == [(date(2026, 11, 9),)]


def test_a_test_that_writes_a_shared_demo_fails_the_session(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.conftest import demos  # noqa: F401")
    pytester.makepyfile(f"""
        import duckdb

        def test_reads(demos):
            assert demos(**{SMALL!r}).db.exists()

        def test_writes(demos):
            with duckdb.connect(str(demos(**{SMALL!r}).db)) as con:
                con.execute("create table scribble as select 1")
    """)
    result = pytester.runpytest_inprocess("-p", "no:dash", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)  # the error: the session's teardown
    result.stdout.fnmatch_lines(["*tests wrote to shared demo files*adoption.duckdb*copy them first*"])
