"""What each person's digest email says: frames in, text out, nothing read or sent here.

A customer success manager's digest holds only their own sites: the flags new for them since
their last digest, the snoozes that came due, and the sites whose risk got worse since the
build of their previous digest. An executive's or an analyst's holds the portfolio: how many
flags are new, the sites whose risk got worse, silent churn and the training effect.

A digest is built once as sections of lines (`Digest.sections`) and rendered twice from
them, as plain text and as HTML, so the two parts always say the same thing; every value
from the data is HTML-escaped in the HTML part.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import quote

import polars as pl

from metrics.reviews.queue import QUEUE_LENGTH

RISK_ORDER = ["low", "medium", "high"]  # worse to the right
STATUS_WORDS = {"quiet": "quiet", "silent_churn": "silently churned"}  # the flagged statuses, as the pages say them
LISTED = QUEUE_LENGTH  # a digest lists as many flags as the queue shows: the rest wait there
FLAG_KEY = ["user_id", "drop_week"]


@dataclass(frozen=True)
class Links:
    """Addresses in the app (`adoption serve`) the digest links to."""

    base_url: str

    def _to(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}"

    def overview(self) -> str:
        return self._to("/")

    def queue(self) -> str:
        return self._to("/queue")

    def site(self, site_id: str) -> str:
        return self._to(f"/sites/{quote(site_id, safe='')}")


@dataclass(frozen=True)
class Line:
    text: str
    url: str | None = None


@dataclass(frozen=True)
class Section:
    heading: str | None  # None: the opening paragraph
    lines: tuple[Line, ...]


@dataclass(frozen=True, eq=False)
class Digest:
    """One person's email, and the flags it names (user_id, drop_week), which the store records
    once the server has accepted it: a flag named in a digest is no longer new for that person."""

    recipient: str
    subject: str
    sections: tuple[Section, ...]
    flags: pl.DataFrame = field(repr=False)

    @property
    def text(self) -> str:
        blocks = []
        for section in self.sections:
            lines = [f"{line.text}\n  {line.url}" if line.url else line.text for line in section.lines]
            if section.heading is None:
                blocks.append("\n".join(lines))
            else:
                blocks.append("\n".join([section.heading, "-" * len(section.heading),
                                         *(f"- {line}" for line in lines)]))
        return "\n\n".join(blocks) + "\n"

    @property
    def html(self) -> str:
        parts = [f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(self.subject)}</title>"
                 "</head><body style=\"font-family: sans-serif\">"]
        for section in self.sections:
            items = [_html_line(line) for line in section.lines]
            if section.heading is None:
                parts += [f"<p>{item}</p>" for item in items]
            else:
                parts.append(f"<h2>{html.escape(section.heading)}</h2><ul>")
                parts += [f"<li>{item}</li>" for item in items]
                parts.append("</ul>")
        parts.append("</body></html>")
        return "\n".join(parts)


def _html_line(line: Line) -> str:
    text = html.escape(line.text)
    return text if line.url is None else f"{text} <a href=\"{html.escape(line.url, quote=True)}\">Open</a>"


def _day(value: date) -> str:
    return f"{value:%d %b %Y}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


# ---- what is news ----------------------------------------------------------------------


def risk_got_worse(current: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame | None:
    """Sites (site_id, name, previous_risk, risk) whose risk now (`current`: site_id, name, risk)
    is worse than in `previous` (site_id, risk: the build of the person's previous digest),
    worst first; None without a previous build to compare with. A site the previous build did
    not score cannot have got worse."""
    if previous is None:
        return None
    rank = pl.Enum(RISK_ORDER)
    return (
        current.join(previous.rename({"risk": "previous_risk"}), on="site_id", how="inner")
        .filter(pl.col("risk").cast(rank) > pl.col("previous_risk").cast(rank))
        .select("site_id", "name", "previous_risk", "risk")
        .sort(pl.col("risk").cast(rank), "site_id", descending=[True, False])
    )


def snoozes_come_due(reviewed: pl.DataFrame, states: pl.DataFrame, digests: pl.DataFrame,
                     person: str) -> pl.DataFrame:
    """The snoozed flags among `reviewed` (with_review_state's frame) that are due again (the
    snooze ended, or the status got worse) and that no digest to this person has named since
    the snooze was recorded: a snooze comes due once, not in every digest after."""
    told = (digests.filter(pl.col("recipient") == person)
            .group_by(FLAG_KEY).agg(pl.col("sent_at").max().alias("last_told_at")))
    return (
        reviewed.filter((pl.col("review_state") == "snoozed") & pl.col("due") & ~pl.col("held_back"))
        .join(states.select(*FLAG_KEY, "reviewed_at"), on=FLAG_KEY, how="left")
        .join(told, on=FLAG_KEY, how="left")
        .filter(pl.col("last_told_at").is_null() | (pl.col("last_told_at") < pl.col("reviewed_at")))
        .drop("reviewed_at", "last_told_at")
    )


# ---- the emails ------------------------------------------------------------------------


def _as_of_line(as_of: date) -> str:
    return f"Data as of the week of {_day(as_of)}."


def _flag_line(flag: dict, links: Links) -> Line:
    status = STATUS_WORDS.get(flag["status"], flag["status"])
    reason = f": {flag['reason']}" if flag.get("reason") else ""
    train_on = f" Stopped {flag['feature_stopped_first']} first." if flag.get("feature_stopped_first") else ""
    return Line(f"{flag['user_id']} at {flag['site_name']}, {status} since {_day(flag['drop_week'])}{reason}{train_on}",
                links.site(flag["site_id"]))


def csm_digest(person: str, as_of: date, new_flags: pl.DataFrame, due_snoozes: pl.DataFrame,
               worse: pl.DataFrame | None, links: Links, first: bool) -> Digest:
    """A customer success manager's digest. Every frame holds only their own sites: the caller
    scopes them, and this function adds nothing else. `new_flags` and `due_snoozes` come in
    the queue's order (worst site first; user_id, drop_week, site_id, site_name, status, reason,
    and snoozed_until for the snoozes); `worse` as risk_got_worse gives it; `first` says this
    person never had a digest."""
    listed_new, listed_due = new_flags.head(LISTED), due_snoozes.head(LISTED)
    sections = [Section(None, (Line(f"Your Adoption Radar digest, {person}. {_as_of_line(as_of)}"),
                               Line("Your review queue", links.queue())))]
    new_heading = f"New flags since your last digest ({new_flags.height:,})" if not first \
        else f"New flags ({new_flags.height:,})"
    new_lines = tuple(_flag_line(flag, links) for flag in listed_new.iter_rows(named=True))
    if new_flags.height > LISTED:
        new_lines += (Line(f"and {new_flags.height - LISTED:,} more in your queue", links.queue()),)
    sections.append(Section(new_heading, new_lines or (Line("None."),)))
    if due_snoozes.height:
        due_lines = tuple(
            Line(f"{flag['user_id']} at {flag['site_name']}, {STATUS_WORDS.get(flag['status'], flag['status'])}: "
                 f"snoozed until {_day(flag['snoozed_until'])}", links.site(flag["site_id"]))
            for flag in listed_due.iter_rows(named=True))
        if due_snoozes.height > LISTED:
            due_lines += (Line(f"and {due_snoozes.height - LISTED:,} more in your queue", links.queue()),)
        sections.append(Section(f"Snoozes that came due ({due_snoozes.height:,})", due_lines))
    sections.append(_worse_section(worse, links))
    named = pl.concat([listed_new.select(FLAG_KEY), listed_due.select(FLAG_KEY)])  # disjoint: a new flag has no action
    return Digest(person, f"Adoption Radar: {_plural(new_flags.height, 'new flag')} at your sites, "
                          f"week of {_day(as_of)}", tuple(sections), named)


@dataclass(frozen=True)
class SilentChurn:
    """Users silently churned at as_of across the portfolio, and how many of them stopped recently."""

    users: int
    recent: int
    recent_weeks: int


def portfolio_digest(person: str, as_of: date, new_flags: pl.DataFrame, worse: pl.DataFrame | None,
                     churn: SilentChurn, training: str, links: Links, first: bool) -> Digest:
    """An executive's or an analyst's digest: counts and sites, never a user. `new_flags`
    (user_id, drop_week) are the portfolio's flags new for this person; the digest counts them
    all, so all are recorded as told and the next digest counts only newer ones. `training`
    is the training effect in the overview page's own sentence."""
    sections = (
        Section(None, (Line(f"Your Adoption Radar portfolio digest, {person}. {_as_of_line(as_of)}"),
                       Line("The overview", links.overview()))),
        Section("Flags", (Line(f"{_plural(new_flags.height, 'new flag')} (users newly quiet or silently churned) "
                               + ("in this build." if first else "since your last digest.")),)),
        _worse_section(worse, links),
        Section("Silent churn", (Line(f"{churn.users:,} users are silently churned; {churn.recent:,} of them "
                                      f"stopped in the last {churn.recent_weeks} weeks."),)),
        Section("Training", (Line(training),)),
    )
    return Digest(person, f"Adoption Radar: {_plural(new_flags.height, 'new flag')} across the portfolio, "
                          f"week of {_day(as_of)}", sections, new_flags.select(FLAG_KEY))


def _worse_section(worse: pl.DataFrame | None, links: Links) -> Section:
    if worse is None:
        return Section("Sites whose risk got worse", (Line(
            "Nothing to compare with yet: from your next digest on, this says which sites got worse since this one."),))
    lines = tuple(Line(f"{site['name']}: risk {site['previous_risk']} -> {site['risk']}", links.site(site["site_id"]))
                  for site in worse.iter_rows(named=True))
    return Section(f"Sites whose risk got worse since your last digest ({worse.height:,})", lines or (Line("None."),))
