"""The models the build runs after the SQL, in order: each reads tables and writes its own."""
from __future__ import annotations

from metrics.quiet_users import write_user_status

BUILD_STAGES = [
    ("score users: quiet, silent churn", write_user_status),
]
