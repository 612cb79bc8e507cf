"""Numbers and dates in the words the pages use, so every page says them the same way."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

STATUS_LABELS = {
    "never_activated": "never activated",
    "new": "new",
    "active": "active",
    "quiet": "quiet",
    "silent_churn": "silently churned",
    "ticketed_decline": "dropped but filed a ticket",
    "deactivated": "deactivated",
}


def day(value: date | datetime | None) -> str:
    """09 Nov 2026; a dash for no date."""
    return "–" if value is None else f"{value:%d %b %Y}"


def moment(value: datetime | None) -> str:
    """09 Nov 2026 14:05 UTC (every timestamp in the file is UTC)."""
    return "–" if value is None else f"{value:%d %b %Y %H:%M} UTC"


def count(value: int | float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def share(value: float | None) -> str:
    """A fraction as a whole percentage."""
    return "–" if value is None else f"{value:.0%}"


def points(value: float | None) -> str:
    """A difference of two shares, in signed percentage points."""
    return "–" if value is None else f"{100 * value:+.1f}"


def rate(value: float | None) -> str:
    """Events a week, to one decimal."""
    return "–" if value is None else f"{value:,.1f}"


def training_sentence(effect: dict[str, Any] | None) -> str:
    """The overall training effect on the weekly active rate, with its 95% interval, in one sentence."""
    if effect is None or effect["estimate"] is None:
        return "The effect of training has not been estimated in this build."
    interval = f"95% interval {points(effect['ci_low'])} to {points(effect['ci_high'])} points"
    basis = f"; {count(effect['n_units'])} sites" if effect.get("n_units") is not None else ""
    if effect["ci_low"] is None or effect["ci_high"] is None:
        return (
            f"Training changed the share of enrolled users active each week by {points(effect['estimate'])} "
            f"percentage points; its uncertainty could not be estimated."
        )
    if effect["ci_low"] <= 0 <= effect["ci_high"]:
        return (
            f"Training's effect on the share of enrolled users active each week cannot be told from zero: "
            f"{points(effect['estimate'])} percentage points ({interval}{basis})."
        )
    verb = "raised" if effect["estimate"] > 0 else "lowered"
    return (
        f"Training {verb} the share of enrolled users active each week by "
        f"{abs(100 * effect['estimate']):.1f} percentage points ({interval}{basis}), from the training week on."
    )
