"""The contract's fixed words and numbers that readers share with the models: the statuses,
which of them are flags, the backtest's methods and horizon.

Kept apart from the models so that the app and notebooks can name a status without importing
statsmodels and the scoring code behind it."""
from __future__ import annotations

STATUSES = ["never_activated", "new", "active", "quiet", "silent_churn", "ticketed_decline", "deactivated"]
FLAGGED = ["quiet", "silent_churn"]
HORIZON_WEEKS = 26  # "came back": any use within this many weeks
BACKTEST_METHODS = ["ours", "30_day_rule"]
MIN_HISTORY_WEEKS = 8  # a backtest's first cut comes at least this long after the first week of data
