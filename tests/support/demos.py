"""Demos written and built once per test session, keyed by their arguments.

Building a demo with every stage takes seconds; several test modules read the same one
(seed 23 with 1,200 users: the quiet-user, evaluation and notebook tests). `DemoCache` writes
and builds each distinct demo once, and every test that asks for it gets the same input folder
and DuckDB file. They are shared, so a test only reads them: one that changes a file works on
a copy (`copy_db`, `copy_input`), and the session ends in an error naming any shared file that
a test changed anyway.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from metrics.stages import BUILD_STAGES
from pipelines.build import build
from pipelines.demo.generate import write_demo

__all__ = ["Demo", "DemoCache", "built_demo", "fingerprint"]

_DEMO_ARGUMENTS = inspect.signature(write_demo)


@dataclass(frozen=True)
class Demo:
    """A demo's input folder and the file built from it with every stage; shared, read-only."""

    input: Path
    db: Path

    @property
    def truth(self) -> Path:
        """What the generator planted: one row per user, with its kind and drop week."""
        return self.input / "truth.csv"


def fingerprint(path: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under path (or of path itself)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in files}


class DemoCache:
    """`cache(seed=23, users=1200, sites=20)`: the demo with these arguments, written and built
    under `root` the first time it is asked for. Any other `write_demo` argument (`weeks`,
    `end_date`) and the build's `as_of` are part of the key; unnamed ones take their defaults,
    so asking with or without a default value gives the same demo."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._demos: dict[tuple, Demo] = {}
        self._fingerprints: dict[tuple, dict[str, tuple[int, int]]] = {}

    def __call__(self, *, seed: int, users: int, sites: int, as_of: date | None = None, **arguments) -> Demo:
        bound = _DEMO_ARGUMENTS.bind(self.root, seed=seed, users=users, sites=sites, **arguments)
        bound.apply_defaults()
        demo_arguments = {k: v for k, v in bound.arguments.items() if k not in ("out_dir", "progress")}
        key = (*demo_arguments.items(), ("as_of", as_of))  # in write_demo's order
        if key not in self._demos:
            folder = self.root / "-".join(f"{k}{v}" for k, v in key if v is not None).replace(" ", "")
            write_demo(folder / "input", **demo_arguments)
            build(folder / "input", folder / "adoption.duckdb", as_of=as_of, stages=BUILD_STAGES)
            self._demos[key] = Demo(folder / "input", folder / "adoption.duckdb")
            self._fingerprints[key] = fingerprint(folder)
        return self._demos[key]

    def changed(self) -> list[str]:
        """The shared files some test wrote to, added or removed since they were built."""
        found = []
        for key, demo in self._demos.items():
            now, then = fingerprint(demo.db.parent), self._fingerprints[key]
            found += sorted(path for path in now.keys() | then.keys() if now.get(path) != then.get(path))
        return found


def built_demo(folder: Path, users: int, sites: int, seed: int) -> Path:
    """Write a demo input into folder/input and build it, models included; return the file.

    A fresh build in a folder of the caller's own; a test that only reads the demo should
    ask the session's `demos` fixture instead, which builds each demo once."""
    write_demo(folder / "input", users=users, sites=sites, seed=seed)
    build(folder / "input", folder / "adoption.duckdb", stages=BUILD_STAGES)
    return folder / "adoption.duckdb"
