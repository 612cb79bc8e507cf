"""The one error a user is meant to see: the input cannot be used (exit status 2)."""
from __future__ import annotations


class InputError(Exception):
    """Unusable input; the message names the file, and the column and row where known."""
