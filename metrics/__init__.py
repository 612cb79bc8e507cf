"""Models over the build's tables: quiet users, site health, the effect of training."""
