"""What the build hands every later stage: its connection, the as_of week, and frames that
several stages read, computed once.

The SQL models fix `as_of` (core.build_window); a stage asks the context instead of reading
it back, and a frame two stages need (the weekly counts, the first training week per site)
is read once per build, not once per stage. What scores a past week (the backtest, `adoption
evaluate`) takes that week's end from `week_end`, the one place it is derived.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import polars as pl

T = TypeVar("T")


def week_end(as_of: date) -> datetime:
    """The first instant after the as_of week (weeks start on Monday): what happened before it counts."""
    return datetime.combine(as_of + timedelta(weeks=1), datetime.min.time())


@dataclass
class BuildContext:
    con: duckdb.DuckDBPyConnection
    as_of: date  # the Monday of the last week reported on
    reviews_path: Path | None = None  # the reviews store whose actions the build copies, if any
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def window_end(self) -> datetime:
        return week_end(self.as_of)

    def shared(self, name: str, compute: Callable[[BuildContext], T]) -> T:
        """`compute(self)`, once per build for each name: the first stage that asks pays."""
        if name not in self._shared:
            self._shared[name] = compute(self)
        return self._shared[name]

    def write_table(self, name: str, frame: pl.DataFrame) -> None:
        """Replace main.<name> with `frame` (columns and types as they are)."""
        view = f"{name}_frame"
        self.con.register(view, frame.to_arrow())
        try:
            self.con.execute(f"create or replace table main.{name} as select * from {view}")
        finally:
            self.con.unregister(view)
