"""Estimators that know nothing of the build's tables: frames in, results objects out."""
