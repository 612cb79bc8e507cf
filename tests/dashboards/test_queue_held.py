"""/queue holds each build's flags in memory (metrics.readers.queue_views.held_queue_flags), so a
queue must never show a file's old flags: not after a new build is renamed over the file, not
after the file is changed in place, and not for another file of the same build. Each test
reads the queue through the page, changes the file, and reads it again."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from metrics.readers.queue_views import held_queue_flags
from metrics.readers.store import latest_build
from tests.support import copy_db
from tests.support.serving import find, page_dbs, page_module, request_for


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return page_dbs(tmp_path_factory.getbasetemp())["full"]


def listed(db: Path) -> list[str]:
    queue = page_module("queue")
    with request_for(db):
        return [row["user_id"] for row in find(queue.layout(), queue.QUEUE_GRID).rowData]


def no_longer_flagged(db: Path, user_id: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("update user_status set status = 'active' where user_id = $user", {"user": user_id})


def test_a_build_renamed_over_the_file_is_read_afresh(full: Path, tmp_path: Path) -> None:
    served = copy_db(full, tmp_path / "served.duckdb")
    first, second, *_ = listed(served)
    assert listed(served)[:2] == [first, second]  # held, and the same
    rebuilt = copy_db(full, tmp_path / "rebuilt.duckdb")
    no_longer_flagged(rebuilt, first)
    os.replace(rebuilt, served)  # as a build does
    assert listed(served)[0] == second


def test_a_file_changed_in_place_is_read_afresh(full: Path, tmp_path: Path) -> None:
    served = copy_db(full, tmp_path / "served.duckdb")
    first, second, *_ = listed(served)
    no_longer_flagged(served, first)  # the same build recorded, the same inode
    assert listed(served)[0] == second


def test_another_file_of_the_same_build_has_flags_of_its_own(full: Path, tmp_path: Path) -> None:
    one, other = copy_db(full, tmp_path / "one.duckdb"), copy_db(full, tmp_path / "other.duckdb")
    first, second, *_ = listed(one)
    no_longer_flagged(other, first)
    assert listed(other)[0] == second and listed(one)[0] == first


def test_the_held_flags_are_the_readers_for_each_site_list(full: Path, tmp_path: Path) -> None:
    served = copy_db(full, tmp_path / "served.duckdb")
    with duckdb.connect(str(served), read_only=True) as con:
        build = latest_build(con)
        [(site,)] = con.execute("select min(site_id) from user_status where status = 'quiet'").fetchall()
        everyone = held_queue_flags(con, build, sites=None)
        one_site = held_queue_flags(con, build, sites=[site])
        assert held_queue_flags(con, build, sites=None) is everyone  # held: not read again
    with duckdb.connect(str(served), read_only=True) as con:
        assert held_queue_flags(con, build, sites=[site]) is one_site  # and across connections
    assert set(one_site["site_id"]) == {site}
    assert everyone.filter(site_id=site).equals(one_site)
