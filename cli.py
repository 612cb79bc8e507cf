"""The `adoption` command line: each command parses its options and hands over.

This is the one module besides app.py that may import every layer (pipelines, metrics,
dashboards); commands import what they run when they run, so `adoption --help` stays fast.
"""
from __future__ import annotations

import functools
import gc
import ipaddress
import os
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pipelines.errors import InputError

cli = typer.Typer(
    help="Adoption Radar: find the users whose use of the product quietly fades.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# markup off: paths and file names are printed, and "[...]" in them is not a style
err = Console(stderr=True, markup=False)
out = Console(width=None if sys.stdout.isatty() else 120, markup=False)  # piped, rich would wrap tables at 80 columns


def _user_facing(command: Callable[..., Any]) -> Callable[..., Any]:
    """Exit 2 with the message for unusable input, 1 for a fault; never a bare traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            # as plain text, unwrapped: a path must survive copying, and brackets in it are not markup
            err.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - the last line of defence
            if os.environ.get("ADOPTION_DEBUG"):
                traceback.print_exc()
            err.print(Text.assemble(("internal error: ", "bold red"), f"{type(error).__name__}: {error}\n"
                                    "Set ADOPTION_DEBUG=1 to see the details."), soft_wrap=True)
            raise typer.Exit(1) from None

    return run


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


@cli.command()
@_user_facing
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the input files into.")],
    users: Annotated[int, typer.Option(min=10, help="Number of users.")] = 2000,
    sites: Annotated[int, typer.Option(min=2, help="Number of sites.")] = 30,
    weeks: Annotated[int, typer.Option(min=26, help="Weeks of history (drops need 8 weeks of baseline).")] = 52,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same files.")] = 7,
) -> None:
    """Write a realistic synthetic input folder, and truth.csv naming what was planted."""
    from pipelines.demo.generate import write_demo

    if users < sites:
        raise InputError(f"--users {users} is fewer than --sites {sites}: every site needs a user")

    with _progress() as progress:
        task = progress.add_task("generate", total=100)

        def advance(stage: str, fraction: float) -> None:
            progress.update(task, description=stage, completed=round(100 * fraction))

        summary = write_demo(out_dir, users=users, sites=sites, weeks=weeks, seed=seed, progress=advance)
    out.print(f"Wrote {summary.events:,} events for {users:,} users at {sites} sites to {out_dir}")


@cli.command()
@_user_facing
def build(
    input_dir: Annotated[Path, typer.Option("--input", help="The input folder.")],
    db: Annotated[Path, typer.Option(help="The DuckDB file to write (replaced atomically).")],
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Report on the week of this date."),
    ] = None,
    reviews: Annotated[Path | None, typer.Option(
        help="The reviews store whose actions the build copies; default: beside the database.")] = None,
) -> None:
    """Load, validate and model an input folder into the DuckDB file."""
    from metrics.reviews.store import default_path
    from metrics.stages import BUILD_STAGES
    from pipelines.build import build as run_build

    with _progress() as progress:
        task = progress.add_task("build", total=None)

        def on_step(description: str, step: int, total: int) -> None:
            progress.update(task, description=description, completed=step, total=total)

        summary = run_build(input_dir, db, as_of.date() if as_of else None, stages=BUILD_STAGES, on_step=on_step,
                            reviews_path=reviews or default_path(db))
        progress.update(task, description="done", completed=progress.tasks[0].total)
    _print_build_summary(summary)


class RollupEngine(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


@cli.command()
@_user_facing
def rollup(
    input_dir: Annotated[Path, typer.Option("--input", help="The input folder, with raw events.")],
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write: a complete input for `adoption build`.")],
    engine: Annotated[RollupEngine, typer.Option(help="duckdb (this machine) or spark.")] = RollupEngine.duckdb,
    spark_master: Annotated[str | None, typer.Option(
        "--spark-master", help="With --engine spark: the cluster's master URL; default local[*], this machine.")] = None,
) -> None:
    """Count the events once per user, UTC day and event name (event_days), for `adoption build --input`."""
    from pipelines.rollup import rollup as run_rollup

    if spark_master and engine is not RollupEngine.spark:
        raise InputError("--spark-master is for --engine spark")
    with err.status(f"rollup on {engine.value}"):
        summary = run_rollup(input_dir, out_dir, engine.value, spark_master)
    out.print(
        f"Wrote {summary.out_dir}: {summary.events:,} events in {summary.event_days:,} rows of event_days "
        f"(per user, UTC day and event name), from {summary.rows_read:,} event rows in {len(summary.files)} files; "
        f"{summary.rows_quarantined:,} quarantined (quarantine.parquet). {summary.engine}, {summary.seconds:.1f} s."
    )
    out.print(f"Build from it: adoption build --input {summary.out_dir} --db PATH")


def _print_build_summary(summary: Any) -> None:
    out.print(f"Built {summary.db_path}, as of the week of {summary.as_of:%d %b %Y}.")
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.table_rows.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)
    out.print(f"{summary.mode.capitalize()} build: {summary.mode_reason}.")
    out.print(
        f"The input: {summary.rows_read:,} rows in {summary.input_files} files: {summary.rows_loaded:,} loaded "
        f"({summary.duplicate_events:,} repeated event deliveries counted once), "
        f"{summary.rows_quarantined:,} quarantined. {summary.seconds:.1f} s."
    )
    if summary.rows_quarantined:
        out.print("See the quarantine table (or the /data page) for the reasons.")


@cli.command()
@_user_facing
def evaluate(
    input_dir: Annotated[Path, typer.Option("--input", help="The demo folder holding truth.csv.")],
    db: Annotated[Path, typer.Option(help="The DuckDB file built from that folder.")],
) -> None:
    """Precision, recall and detection delay of the quiet flag, ours beside the 30-day rule."""
    import polars as pl

    from metrics.quiet.evaluation import evaluate as run_evaluation
    from metrics.readers.store import reading

    truth_file = input_dir / "truth.csv"
    if not truth_file.is_file():
        raise InputError(f"{truth_file}: no such file; evaluate needs the demo's planted truth")
    if not db.is_file():
        raise InputError(f"{db}: no such database; run `adoption build` first")
    truth = pl.read_csv(truth_file, schema_overrides={"user_id": pl.String, "kind": pl.String, "drop_week": pl.String})
    with reading(db) as con:
        scores, statuses = run_evaluation(con, truth)
    table = Table(title="Planted silent droppers (silent_stop, silent_fade) at as_of")
    for column in ["method", "flagged", "precision", "recall", "median delay (weeks)", "stops / fades",
                   "detected by as_of"]:
        table.add_column(column, justify="left" if column == "method" else "right")

    def weeks(delay: float | None) -> str:
        return "-" if delay is None else f"{delay:.1f}"

    for score in scores:
        by_kind = " / ".join(weeks(score.median_delay_by_kind[kind]) for kind in ("silent_stop", "silent_fade"))
        table.add_row(score.method, f"{score.flagged:,}", f"{score.precision:.3f}", f"{score.recall:.3f}",
                      weeks(score.median_delay_weeks), by_kind, f"{score.detected_by_as_of:,} of {score.droppers:,}")
    out.print(table)
    _print_crosstab(statuses)


def _print_crosstab(statuses: Any) -> None:
    """Planted kind by status, statuses in the contract's order."""
    from metrics.vocabulary import STATUSES

    counts = {(kind, status): n for kind, status, n in statuses.group_by("kind", "status").len().iter_rows()}
    table = Table(title="Status at as_of of each planted kind")
    table.add_column("planted kind")
    for status in STATUSES:
        table.add_column(status.replace("_", " "), justify="right")
    for kind in sorted({kind for kind, _ in counts if kind is not None}):
        table.add_row(kind, *[str(counts.get((kind, status), 0)) for status in STATUSES])
    out.print(table)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cli.command()
@_user_facing
def serve(
    db: Annotated[Path, typer.Option(help="The DuckDB file written by `adoption build`.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8050,
    auth: Annotated[Path | None, typer.Option(
        help="TOML file of users and roles: with password hashes, or with an [oidc] table for single sign-on.")] = None,
    reviews: Annotated[Path | None, typer.Option(
        help="The reviews store (CSM actions, access log); default: beside the database.")] = None,
) -> None:
    """Serve the dashboard over the DuckDB file, opened read-only."""
    if auth is None and not _is_loopback(host):
        raise InputError(f"refusing to serve on {host} without sign-in: only loopback addresses are allowed")
    if not db.is_file():
        raise InputError(f"{db}: no such database; run `adoption build` first")
    from waitress import serve as waitress_serve

    from app import create_app
    from dashboards.sign_in import load_auth_file, require_sign_in
    from dashboards.ui import hold_open

    sign_in = load_auth_file(auth) if auth is not None else None  # a bad file stops us before the app loads
    app = create_app(db, reviews)
    hold_open(app)
    if sign_in is not None:
        require_sign_in(app, sign_in)
    err.print(f"Serving {db} at http://{host}:{port}/ (Ctrl+C to stop)")
    # Everything loaded so far (Dash, Plotly, the pages: some 200,000 objects) lives as long as the
    # server: left out of garbage collection, a full collection no longer costs a request 100-300 ms.
    gc.freeze()
    waitress_serve(app.server, host=host, port=port, threads=8)


@cli.command()
@_user_facing
def holdback(
    reviews: Annotated[Path, typer.Option(help="The reviews store (beside the database by default: NAME.reviews.sqlite).")],
    share: Annotated[float | None, typer.Option(help="The share of new flags held out of queues and digests, 0-0.5.")] = None,
    weeks: Annotated[int | None, typer.Option(help="How many weeks a held-back flag stays out.")] = None,
    off: Annotated[bool, typer.Option("--off", help="Turn the hold-back off.")] = False,
) -> None:
    """Turn the randomised hold-back on (--share, --weeks) or off: the causal effect of outreach."""
    import getpass

    from metrics.reviews.holdback import SHARE_SETTING, WEEKS_SETTING
    from metrics.reviews.store import ReviewStore

    if off == (share is not None or weeks is not None) or (not off and (share is None or weeks is None)):
        raise InputError("give either --share and --weeks, or --off")
    if not off and not (0 < share <= 0.5 and 1 <= weeks <= 52):
        raise InputError(f"--share must be above 0 and at most 0.5 (got {share}), --weeks 1 to 52 (got {weeks})")
    store, who = ReviewStore(reviews), getpass.getuser()
    store.set_setting(SHARE_SETTING, "0" if off else str(share), who)
    store.set_setting(WEEKS_SETTING, "0" if off else str(weeks), who)
    out.print("The hold-back is off." if off else
              f"From now on {share:.0%} of new flags stay out of queues and digests for {weeks} weeks; "
              "/training compares them with the flags sent to CSMs after the next build.")


@cli.command()
@_user_facing
def audit(
    reviews: Annotated[Path, typer.Option(help="The reviews store (beside the database by default: NAME.reviews.sqlite).")],
    since: Annotated[
        datetime | None, typer.Option("--since", formats=["%Y-%m-%d"], help="Only entries from this day on.")
    ] = None,
) -> None:
    """Print the access log: who viewed which site, downloaded which list, changed which review."""
    from metrics.reviews.store import ReviewStore

    if not reviews.is_file():
        raise InputError(f"{reviews}: no such reviews store")
    log = ReviewStore(reviews).access_log(since.date() if since else None)
    table = Table("when (UTC)", "who", "what", "site", "users", "detail", title=f"Access log: {log.height} entries")
    for at, who, kind, site, users, detail in log.select("at", "who", "kind", "site_id", "users", "detail").rows():
        table.add_row(f"{at:%Y-%m-%d %H:%M:%S}", who, kind, site or "", "" if users is None else str(users), detail or "")
    out.print(table)


@cli.command()
@_user_facing
def digest(
    db: Annotated[Path, typer.Option(help="The DuckDB file written by `adoption build`.")],
    auth: Annotated[Path, typer.Option(help="The auth file: everyone in it gets a digest, scoped by their role.")],
    sender: Annotated[str, typer.Option("--from", help="The sender's address.")],
    reviews: Annotated[Path | None, typer.Option(
        help="The reviews store (actions, and what earlier digests sent); default: beside the database.")] = None,
    smtp: Annotated[str | None, typer.Option(help="HOST:PORT of the mail server to send through.")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Write RECIPIENT.eml files into this folder instead of sending: a preview, nothing recorded.")] = None,
    base_url: Annotated[str, typer.Option(help="Where the app is served, for the links.")] = "http://127.0.0.1:8050",
) -> None:
    """Email everyone in the auth file a digest of the latest build: a CSM their own sites' new flags,
    snoozes come due and sites whose risk got worse; others the portfolio. Once per person and build."""
    from datetime import timezone

    from dashboards.sign_in import load_auth_file
    from dashboards.wording import training_sentence
    from metrics.reviews.digest import Links
    from metrics.reviews.digest_run import run_digests
    from metrics.reviews.mailer import EmlFolder, SmtpOutbox
    from metrics.reviews.store import ReviewStore, default_path

    if (smtp is None) == (out_dir is None):
        raise InputError("give exactly one of --smtp HOST:PORT (send) and --out DIR (write .eml files)")
    if not db.is_file():
        raise InputError(f"{db}: no such database; run `adoption build` first")
    people = {account.user: account.role for account in load_auth_file(auth).accounts.values()}
    if smtp is not None:
        host, _, port = smtp.rpartition(":")
        if not host or not port.isdigit():
            raise InputError(f"--smtp {smtp}: expected HOST:PORT, such as localhost:25")
        outbox = SmtpOutbox(host.strip("[]"), int(port))
    else:
        outbox = EmlFolder(out_dir)
    store = ReviewStore(reviews or default_path(db))
    run = run_digests(db, store, people, outbox, sender, Links(base_url), datetime.now(timezone.utc).date(),
                      training_sentence, record=smtp is not None)
    build = f"the build of {run.build.built_at:%d %b %Y %H:%M} UTC (as of the week of {run.build.as_of:%d %b %Y})"
    verb = "Sent" if smtp is not None else f"Wrote into {out_dir} (a preview, nothing recorded)"
    out.print(f"{verb}: {len(run.delivered)} digests of {build}.")
    if run.already_sent:
        out.print(f"Already sent for this build, so not again: {', '.join(run.already_sent)}.")
    if run.failure:
        err.print(Text.assemble(("error: ", "bold red"), run.failure), soft_wrap=True)
        err.print(f"Not sent: {', '.join(run.pending)}. Those sent are recorded; run again to send the rest.",
                  soft_wrap=True)
        raise typer.Exit(2)


@cli.command("hash-password")
@_user_facing
def hash_password() -> None:
    """Read a password (a prompt, or one line of standard input) and print its hash for the auth file."""
    from dashboards.sign_in import hash_password as argon2_hash

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError("the password is empty")
    print(argon2_hash(password))
