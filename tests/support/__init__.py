"""What the tests share besides fixtures: the hand-made input, the `adoption` command as a
user runs it, reading a built file back, and copying one before changing it.

The demo cache is in `tests.support.demos` (conftest hands it out as the `demos` fixture),
hand-made scoring histories in `tests.support.histories`.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

__all__ = ["ADOPTION", "DATA", "FIXTURES", "READER", "ROOT", "TESTS", "TINY", "adoption", "copy_db", "copy_input",
           "rows", "table_contents"]

TESTS = Path(__file__).parent.parent
ROOT = TESTS.parent  # the repository
FIXTURES = TESTS / "fixtures"  # hand-made inputs
DATA = TESTS / "data"  # published data sets the models are checked against
TINY = FIXTURES / "tiny"
ADOPTION = str(Path(sys.executable).with_name("adoption"))


def adoption(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed `adoption` command as a user would."""
    return subprocess.run([ADOPTION, *args], capture_output=True, text=True, timeout=timeout)


def rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def table_contents(db: Path, exclude: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every table's rows, in a fixed order, keyed by schema.table: what "the same file" means."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [name for (name,) in con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() where not list_contains(?, table_name) "
            "order by 1", [list(exclude)]).fetchall()]
        return {name: con.execute(f"select * from {name} order by all").fetchall() for name in names}


def copy_db(db: Path, target: Path) -> Path:
    """A private copy of a built file (a shared one must never be written): `target` is the new
    file, or a folder to put it in under the same name."""
    target = target / db.name if target.is_dir() else target
    shutil.copyfile(db, target)
    return target


def copy_input(folder: Path, target: Path) -> Path:
    """A private copy of an input folder, for a test that edits its files."""
    shutil.copytree(folder, target)
    return target


# A second process that holds the file open, as a notebook would, and opens it afresh for
# every read, as the app does; it prints how many reads it made once `stop` exists.
READER = textwrap.dedent(
    """
    import sys, time, duckdb
    db, stop = sys.argv[1], sys.argv[2]
    held = duckdb.connect(db, read_only=True)      # a notebook keeping the file open
    reads = 0
    while True:
        held.execute("select count(*), sum(events) from user_weeks").fetchall()
        with duckdb.connect(db, read_only=True) as fresh:   # the app, one connection per request
            fresh.execute("select max(run_id) from build_runs").fetchall()
        reads += 1
        if reads > 20 and __import__("os").path.exists(stop):
            break
        time.sleep(0.01)
    print(reads)
    """
)
