"""Shared fixtures: the hand-made tiny input, built once, and the `adoption` command."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from metrics.stages import BUILD_STAGES
from pipelines.build import build
from pipelines.demo.generate import write_demo

FIXTURES = Path(__file__).parent / "fixtures"
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


@pytest.fixture(scope="session")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("tiny") / "tiny.duckdb"
    build(TINY, db)
    return db


def built_demo(folder: Path, users: int, sites: int, seed: int) -> Path:
    """Write a demo input into folder/input and build it, models included; return the file."""
    write_demo(folder / "input", users=users, sites=sites, seed=seed)
    build(folder / "input", folder / "adoption.duckdb", stages=BUILD_STAGES)
    return folder / "adoption.duckdb"
