"""The reviews store: a SQLite file of append-only records, beside the DuckDB file that
builds replace (`NAME.reviews.sqlite` for `NAME.duckdb`), so that what people did survives
every rebuild and restart.

Three kinds of record, each kept with who and when, never updated or deleted:
- `actions`: a CSM's action on a flag (a user and their drop week): `contacted` with an
  outcome code, `snoozed` until a date, or `undone` (taking back one earlier action, by id).
  Codes only, never free text: a note about a clinician can drift into patient detail.
- `access_log`: every site view, download, digest sent and review action.
- `digests`: which flags each person's digest named, per build.
- `build_site_risks`: each build's site risks, kept by the digest run: the analytics file
  holds only the current build's, and a digest says which sites got worse since a person's last.
The current state of a flag is derived from its actions (`flag_states`).

Several processes use one store at once (the app's threads, a digest run, a build copying
the actions): WAL mode lets readers run beside the one writer, each write is one short
transaction, and a writer waits (busy timeout) instead of failing with "database is
locked". The schema is created and migrated here, step by step from the version the file
records, so an old store keeps working after an upgrade.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

OUTCOMES = ("reached_will_resume", "reached_workflow_problem", "reached_needs_training", "no_answer",
            "left_organisation", "not_a_concern")
ACTIONS = ("contacted", "snoozed", "undone")
ACCESS_KINDS = ("site_view", "download", "digest_sent", "review_action", "queue_view", "journey_view")
BUSY_TIMEOUT_MS = 30_000

# Each step takes the store from the version before it to its own number; never edit a step
# once released, add one.
MIGRATIONS: list[str] = [
    """
    create table actions (
        action_id integer primary key autoincrement,
        user_id text not null,
        drop_week text not null,          -- ISO date: with user_id, the flag
        site_id text not null,
        status text not null,             -- the flag's status when acted on: a snooze ends if it gets worse
        reviewer text not null,
        action text not null check (action in ('contacted', 'snoozed', 'undone')),
        outcome text check (outcome is null or outcome in ('reached_will_resume', 'reached_workflow_problem',
            'reached_needs_training', 'no_answer', 'left_organisation', 'not_a_concern')),
        snoozed_until text,               -- ISO date, for snoozed
        undoes integer references actions(action_id),  -- for undone
        at text not null                  -- ISO timestamp, UTC
    );
    create index actions_by_flag on actions (user_id, drop_week);
    create table access_log (
        entry_id integer primary key autoincrement,
        at text not null,
        who text not null,
        kind text not null,
        site_id text,
        users integer,
        detail text                       -- a code or a path, never free text from a person
    );
    create table digests (
        digest_id integer primary key autoincrement,
        recipient text not null,
        build_run_id text not null,
        sent_at text not null,
        flags integer not null
    );
    create table digest_flags (
        digest_id integer not null references digests(digest_id),
        user_id text not null,
        drop_week text not null
    );
    create table settings (
        name text primary key,
        value text not null,
        set_by text not null,
        at text not null
    );
    """,
    # 2: each build's site risks, written by `adoption digest` before it sends, so the next
    # digest can say which sites got worse since the build of a person's previous one (the
    # analytics file keeps only today's risk; a build replaces it).
    """
    create table build_site_risks (
        build_run_id text not null,
        site_id text not null,
        risk text,                        -- high, medium or low, or null for a site without a score
        primary key (build_run_id, site_id)
    );
    """,
]


def _statements(script: str) -> list[str]:
    """The script's statements, one by one (inside the migration's transaction, which
    `executescript` would commit); a `;` inside a comment or a string does not end one."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"an incomplete statement in a migration: {pending.strip()[:80]}")
    return statements


def default_path(db_path: Path) -> Path:
    """The store beside the analytics file: data/adoption.duckdb -> data/adoption.reviews.sqlite."""
    return db_path.with_name(f"{db_path.stem}.reviews.sqlite")


def _now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Action:
    """One CSM action on one flag, as the store keeps it (without its id and time)."""

    user_id: str
    drop_week: date
    site_id: str
    status: str
    reviewer: str
    action: str
    outcome: str | None = None
    snoozed_until: date | None = None
    undoes: int | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")
        if (self.action == "contacted") != (self.outcome is not None) or (
                self.outcome is not None and self.outcome not in OUTCOMES):
            raise ValueError(f"a contact needs one of the outcome codes {OUTCOMES}, and only a contact has one")
        if (self.action == "snoozed") != (self.snoozed_until is not None):
            raise ValueError("a snooze needs a date, and only a snooze has one")
        if (self.action == "undone") != (self.undoes is not None):
            raise ValueError("an undo names the action it takes back, and only an undo does")


class ReviewStore:
    """The store at `path`, created or migrated on first use. Every call opens its own short
    connection, so one instance serves any number of threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._open: sqlite3.Connection | None = None  # see stay_open
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as con:
            con.execute("pragma journal_mode = wal")
            self._migrate(con)

    def stay_open(self) -> None:
        """Keep one connection open for this object's life (a server's choice): SQLite checkpoints
        the write-ahead log whenever the last connection to the file closes, so every short
        connection's close was an fsync (4-12 ms a page view under load). With one open, the log is
        checkpointed as it grows; a record is then in the file or its -wal until that happens
        (SQLite reads both; a backup copies both, or uses sqlite3's backup)."""
        if self._open is None:
            self._open = sqlite3.connect(self.path, check_same_thread=False)
            self._open.execute("select count(*) from schema_version").fetchone()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            con.execute(f"pragma busy_timeout = {BUSY_TIMEOUT_MS}")
            con.execute("pragma foreign_keys = on")
            yield con
        finally:
            con.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), so a writer waits its turn at the
        start instead of failing halfway."""
        with self._connection() as con:
            con.execute("begin immediate")
            try:
                yield con
            except BaseException:
                con.execute("rollback")
                raise
            con.execute("commit")

    @staticmethod
    def _migrate(con: sqlite3.Connection) -> None:
        con.execute("begin immediate")
        try:
            con.execute("create table if not exists schema_version (version integer not null)")
            row = con.execute("select max(version) from schema_version").fetchone()
            version = row[0] or 0
            if version > len(MIGRATIONS):
                raise RuntimeError(f"the reviews store is version {version}, newer than this program "
                                   f"({len(MIGRATIONS)}): upgrade Adoption Radar")
            for step, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    con.execute(statement)
                con.execute("insert into schema_version values (?)", [step])
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise

    @property
    def version(self) -> int:
        with self._connection() as con:
            return con.execute("select max(version) from schema_version").fetchone()[0]

    # ---- actions -----------------------------------------------------------------------

    def record(self, action: Action) -> int:
        """Append one action; its id."""
        with self._writing() as con:
            cursor = con.execute(
                "insert into actions (user_id, drop_week, site_id, status, reviewer, action, outcome, snoozed_until, undoes,"
                " at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [action.user_id, action.drop_week.isoformat(), action.site_id, action.status, action.reviewer,
                 action.action,
                 action.outcome, action.snoozed_until.isoformat() if action.snoozed_until else None, action.undoes,
                 _now()])
            return int(cursor.lastrowid)

    def actions(self, after: int = 0) -> pl.DataFrame:
        """Every action, oldest first; with `after`, only those with a later id (the store only
        appends, so these are the ones recorded since that one)."""
        with self._connection() as con:
            rows = con.execute("select action_id, user_id, drop_week, site_id, status, reviewer, action, outcome, "
                               "snoozed_until, undoes, at from actions where action_id > ? order by action_id",
                               [after]).fetchall()
        return pl.DataFrame(rows, schema=ACTIONS_SCHEMA, orient="row").with_columns(
            pl.col("drop_week", "snoozed_until").str.to_date(), pl.col("at").str.to_datetime())

    # ---- access log --------------------------------------------------------------------

    def log_access(self, who: str, kind: str, site_id: str | None = None, users: int | None = None,
                   detail: str | None = None) -> None:
        if kind not in ACCESS_KINDS:
            raise ValueError(f"unknown access kind {kind!r}")
        with self._writing() as con:
            con.execute("insert into access_log (at, who, kind, site_id, users, detail) values (?, ?, ?, ?, ?, ?)",
                        [_now(), who, kind, site_id, users, detail])

    def access_log(self, since: date | None = None) -> pl.DataFrame:
        """The access log, oldest first, from `since` on."""
        with self._connection() as con:
            rows = con.execute("select entry_id, at, who, kind, site_id, users, detail from access_log "
                               "where at >= ? order by entry_id", [(since or date.min).isoformat()]).fetchall()
        return pl.DataFrame(rows, schema=ACCESS_SCHEMA, orient="row").with_columns(pl.col("at").str.to_datetime())

    # ---- digests -----------------------------------------------------------------------

    def record_digest(self, recipient: str, build_run_id: str, flags: pl.DataFrame) -> int:
        """What one person's digest named (user_id, drop_week), for one build; its id."""
        with self._writing() as con:
            cursor = con.execute("insert into digests (recipient, build_run_id, sent_at, flags) values (?, ?, ?, ?)",
                                 [recipient, build_run_id, _now(), flags.height])
            digest_id = int(cursor.lastrowid)
            con.executemany("insert into digest_flags values (?, ?, ?)",
                            [(digest_id, user, week.isoformat()) for user, week in flags.select("user_id", "drop_week").rows()])
            return digest_id

    def digests(self) -> pl.DataFrame:
        """Every digest sent: recipient, build_run_id, sent_at, and the flags it named (one row each)."""
        with self._connection() as con:
            rows = con.execute("select d.digest_id, d.recipient, d.build_run_id, d.sent_at, f.user_id, f.drop_week "
                               "from digests d left join digest_flags f using (digest_id) order by d.digest_id").fetchall()
        return pl.DataFrame(rows, schema=DIGEST_SCHEMA, orient="row").with_columns(
            pl.col("sent_at").str.to_datetime(), pl.col("drop_week").str.to_date())

    # ---- each build's site risks (what a digest compares with) ------------------------------

    def remember_build_risks(self, build_run_id: str, risks: pl.DataFrame) -> None:
        """Keep `risks` (site_id, risk) as this build's; a build already kept stays as it was."""
        with self._writing() as con:
            con.executemany("insert or ignore into build_site_risks values (?, ?, ?)",
                            [(build_run_id, site, risk) for site, risk in risks.select("site_id", "risk").rows()])

    def build_risks(self, build_run_id: str) -> pl.DataFrame | None:
        """The site risks kept for this build (site_id, risk), or None when none were kept."""
        with self._connection() as con:
            rows = con.execute("select site_id, risk from build_site_risks where build_run_id = ? order by site_id",
                               [build_run_id]).fetchall()
        return pl.DataFrame(rows, schema=RISK_SCHEMA, orient="row") if rows else None

    # ---- settings ----------------------------------------------------------------------

    def setting(self, name: str) -> str | None:
        with self._connection() as con:
            row = con.execute("select value from settings where name = ?", [name]).fetchone()
        return None if row is None else row[0]

    def setting_changed_at(self, name: str) -> datetime | None:
        """When the setting was last set (UTC), or None if never."""
        with self._connection() as con:
            row = con.execute("select at from settings where name = ?", [name]).fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    def set_setting(self, name: str, value: str, set_by: str) -> None:
        with self._writing() as con:
            con.execute("insert into settings values (?, ?, ?, ?) on conflict (name) do update set "
                        "value = excluded.value, set_by = excluded.set_by, at = excluded.at", [name, value, set_by, _now()])


ACTIONS_SCHEMA = {"action_id": pl.Int64, "user_id": pl.String, "drop_week": pl.String, "site_id": pl.String,
                  "status": pl.String, "reviewer": pl.String, "action": pl.String, "outcome": pl.String, "snoozed_until": pl.String,
                  "undoes": pl.Int64, "at": pl.String}
RISK_SCHEMA = {"site_id": pl.String, "risk": pl.String}
ACCESS_SCHEMA = {"entry_id": pl.Int64, "at": pl.String, "who": pl.String, "kind": pl.String, "site_id": pl.String,
                 "users": pl.Int64, "detail": pl.String}
DIGEST_SCHEMA = {"digest_id": pl.Int64, "recipient": pl.String, "build_run_id": pl.String, "sent_at": pl.String,
                 "user_id": pl.String, "drop_week": pl.String}
