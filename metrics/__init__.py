"""Models over the build's tables: quiet users, site health, the effect of training.

For notebooks, the public API is what this module exports: open the file read-only
(the app and the build may be using it), then ask the common questions in one call.

    import metrics
    con = metrics.open_readonly("data/adoption.duckdb")
    metrics.cohort_retention(con, by="invite_month")
    metrics.journey_funnel(con, by="role")
"""
from metrics.readers.cohorts import cohort_retention, training_before_after, went_quiet
from metrics.readers.catalog import column_comments, table_comments
from metrics.readers.journey_views import journey_funnel
from metrics.readers.store import latest_build, open_readonly

__all__ = [
    "cohort_retention",
    "column_comments",
    "journey_funnel",
    "latest_build",
    "open_readonly",
    "table_comments",
    "training_before_after",
    "went_quiet",
]
