"""The models the build runs after the SQL, in order: each reads tables and writes its own."""
from __future__ import annotations

from metrics.quiet.flag_backtest import write_flag_backtest
from metrics.quiet.quiet_users import write_user_status
from metrics.reviews.outcomes import write_outreach_outcomes
from metrics.reviews.reviews_table import write_reviews
from metrics.sites.site_health import write_site_health
from metrics.training.training_effect import write_training_effect
from metrics.training.training_survival import write_training_survival
from metrics.training.training_tests import write_training_tests

BUILD_STAGES = [
    ("score users: quiet, silent churn", write_user_status),
    ("check past flags against what came next", write_flag_backtest),
    ("score sites: health and risk", write_site_health),
    ("measure the effect of training", write_training_effect),
    ("check the training estimates: pre-trends, hazard of going silent", write_training_tests),
    ("training and silent churn: survival curves", write_training_survival),
    ("copy the reviews store's actions: what came of each contact", write_reviews),
    ("does outreach help: flagged users active again, contacted or not, held back or not", write_outreach_outcomes),
]
