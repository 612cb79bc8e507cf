"""Dash pages, one module each; they read through `metrics` and never open files."""
