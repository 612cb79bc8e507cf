"""`adoption holdback` turns the randomised hold-back on and off in the reviews store."""
from __future__ import annotations

from pathlib import Path

from metrics.reviews.holdback import Holdback
from metrics.reviews.store import ReviewStore
from tests.support import adoption


def test_the_hold_back_is_set_checked_and_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "adoption.reviews.sqlite"
    assert adoption("holdback", "--reviews", str(path), "--share", "0.2", "--weeks", "8").returncode == 0
    assert Holdback.from_store(ReviewStore(path)) == Holdback(0.2, 8)
    refused = adoption("holdback", "--reviews", str(path), "--share", "0.9", "--weeks", "8")
    assert refused.returncode == 2 and "--share" in refused.stderr and "Traceback" not in refused.stderr
    assert adoption("holdback", "--reviews", str(path), "--share", "0.2").returncode == 2  # no --weeks
    assert Holdback.from_store(ReviewStore(path)) == Holdback(0.2, 8)  # nothing changed by a refused call
    assert adoption("holdback", "--reviews", str(path), "--off").returncode == 0
    assert Holdback.from_store(ReviewStore(path)) == Holdback(0.0, 0)
