"""`adoption rollup`: the build's events stage alone (read, check, drop repeats, count per
user, UTC day and event name) on DuckDB or Apache Spark, from the build's own SQL models."""
from pipelines.rollup.run import RollupSummary, rollup

__all__ = ["RollupSummary", "rollup"]
