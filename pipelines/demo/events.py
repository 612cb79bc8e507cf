"""Writes sampled events the way a real export arrives: monthly Parquet files plus a legacy CSV.

Imperfections are deliberate, because the loader must cope with them: about 0.7 % of events are
re-delivered with the same event_id (some in the next month's file), 2 % come through a legacy
export with no event_id at all, where a few rows repeat whole, and that export carries a few bad
rows (unparseable timestamp, empty user_id, unknown user).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.demo.activity import EventChunk, property_strings
from pipelines.demo.world import EVENT_NAMES, World, id_strings

LEGACY_FILE = "legacy_export.csv"
LEGACY_SHARE = 0.02
LEGACY_REPEAT_SHARE = 0.005  # legacy rows delivered twice, whole
DUPLICATE_SHARE = 0.007  # parquet events re-delivered with the same event_id
NEXT_MONTH_SHARE = 0.3  # of those, re-delivered in the next month's file
EVENT_ID_DIGITS = 9
BAD_TIMESTAMPS = ("2026-02-30T09:15:00Z", "yesterday 10am", "31/12/2025 14:02", "2026-04-01T25:61:00Z", "")

SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("event_name", pa.string()),
        ("event_id", pa.string()),
        ("site_id", pa.string()),
        ("properties", pa.string()),
    ]
)


class EventWriter:
    """Streams event chunks into `events/YYYY-MM.parquet` (one row group per chunk) and the legacy CSV."""

    def __init__(self, events_dir: Path, world: World, user_digits: int, site_digits: int) -> None:
        events_dir.mkdir(parents=True, exist_ok=True)
        # month files of an earlier run (say, a longer history) would otherwise mix into this one
        for stale in events_dir.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9].parquet"):
            stale.unlink()
        self._dir = events_dir
        self._world = world
        self._user_digits = user_digits
        self._site_digits = site_digits
        self._names = pa.array(EVENT_NAMES)
        self._properties = pa.array(property_strings())
        self._writers: dict[int, pq.ParquetWriter] = {}
        self._legacy = (events_dir / LEGACY_FILE).open("wb")
        self._last_month = _month(np.array([world.calendar.end_s * 1000 - 1]))[0]
        self.events = 0
        self.parquet_rows = 0
        self.legacy_rows = 0

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for writer in self._writers.values():
            writer.close()
        self._legacy.close()

    def write(self, rng: np.random.Generator, chunk: EventChunk) -> None:
        """Number the chunk's events, send 2 % to the legacy export and the rest to the month files."""
        n = len(chunk.timestamp_ms)
        event_no = self.events + np.arange(n)
        self.events += n
        legacy = rng.random(n) < LEGACY_SHARE
        self._write_parquet(rng, chunk, event_no, np.flatnonzero(~legacy))
        self._write_legacy(rng, chunk, event_no, np.flatnonzero(legacy))

    def write_bad_rows(self, rng: np.random.Generator, per_kind: int) -> None:
        """Legacy rows the loader must quarantine: bad timestamp, empty user_id, user not in users.csv."""
        users, calendar = self._world.users, self._world.calendar
        n = 3 * per_kind
        pick = rng.integers(0, len(users), n)
        moment_ms = 1000 * calendar.start_s + rng.integers(0, calendar.days * 86_400_000, n)
        timestamp = np.char.add(moment_ms.astype("datetime64[ms]").astype(str), "Z").astype(object)
        timestamp[:per_kind] = np.resize(np.array(BAD_TIMESTAMPS), per_kind)
        unknown = len(users) + 2 * per_kind + np.arange(per_kind)  # beyond every id users.csv holds
        user = np.concatenate([pick[: 2 * per_kind], unknown])
        user_id = id_strings("u", user, self._user_digits).to_numpy(zero_copy_only=False)
        user_id[per_kind : 2 * per_kind] = None
        rows = pl.DataFrame(
            {
                "user_id": user_id,
                "timestamp": timestamp,
                "event_name": np.array(EVENT_NAMES)[rng.integers(0, len(EVENT_NAMES), n)],
                "site_id": id_strings("s", users.site[pick], self._site_digits).to_numpy(zero_copy_only=False),
                "properties": np.resize(np.array(property_strings()), n),
            },
            schema=dict.fromkeys(("user_id", "timestamp", "event_name", "site_id", "properties"), pl.String),
        )
        self._write_csv(rows)

    def _table(self, chunk: EventChunk, event_no: np.ndarray, rows: np.ndarray) -> pa.Table:
        """The chunk's `rows`, in that order, built column by column from the numbers (no take on strings)."""
        user = chunk.user[rows]
        return pa.Table.from_arrays(
            [
                id_strings("u", user, self._user_digits),
                pa.array(chunk.timestamp_ms[rows], pa.timestamp("ms", tz="UTC")),
                self._names.take(pa.array(chunk.name[rows])),
                id_strings("e", event_no[rows], EVENT_ID_DIGITS),
                id_strings("s", self._world.users.site[user], self._site_digits),
                self._properties.take(pa.array(chunk.properties[rows])),
            ],
            schema=SCHEMA,
        )

    def _write_parquet(
        self, rng: np.random.Generator, chunk: EventChunk, event_no: np.ndarray, rows: np.ndarray
    ) -> None:
        """Group rows by month file; re-deliveries follow the originals, some a month late."""
        month = _month(chunk.timestamp_ms[rows])
        repeat = np.flatnonzero(rng.random(len(rows)) < DUPLICATE_SHARE)
        late = rng.random(len(repeat)) < NEXT_MONTH_SHARE
        target = np.concatenate([month, np.minimum(month[repeat] + late, self._last_month)])
        order = np.argsort(target, kind="stable")
        rows, target = np.concatenate([rows, rows[repeat]])[order], target[order]
        months, starts = np.unique(target, return_index=True)
        for m, start, stop in zip(months, starts, [*starts[1:], len(rows)], strict=True):
            self._writer(int(m)).write_table(self._table(chunk, event_no, rows[start:stop]))
        self.parquet_rows += len(rows)

    def _write_legacy(
        self, rng: np.random.Generator, chunk: EventChunk, event_no: np.ndarray, rows: np.ndarray
    ) -> None:
        """The legacy rows without their event_id, a few delivered twice."""
        rows = np.concatenate([rows, rows[rng.random(len(rows)) < LEGACY_REPEAT_SHARE]])
        table = self._table(chunk, event_no, rows).drop_columns(["event_id"])
        self._write_csv(pl.from_arrow(table).with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")))

    def _write_csv(self, frame: pl.DataFrame) -> None:
        frame.write_csv(self._legacy, include_header=self._legacy.tell() == 0)
        self.legacy_rows += frame.height

    def _writer(self, month: int) -> pq.ParquetWriter:
        if month not in self._writers:
            label = str(np.datetime64(month, "M"))
            self._writers[month] = pq.ParquetWriter(
                self._dir / f"{label}.parquet",
                SCHEMA,
                compression="zstd",
                use_dictionary=["user_id", "event_name", "site_id", "properties"],
            )
        return self._writers[month]


def _month(timestamp_ms: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each timestamp."""
    return timestamp_ms.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
