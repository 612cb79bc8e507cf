"""CSV files that open safely in a spreadsheet.

Ids, names and roles come from customers' input files. A cell starting with = + - @ (or a
tab or carriage return) is run as a formula by Excel and LibreOffice, which can fetch
URLs or run commands ("CSV injection"). Such a cell gets a leading apostrophe, which the
spreadsheet shows as text and does not evaluate (OWASP's advice).
"""
from __future__ import annotations

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"


def as_text(column: str) -> pl.Expr:
    """The column as text, defused if a spreadsheet would read it as a formula."""
    text = pl.col(column).cast(pl.String)
    return pl.when(text.str.contains(FORMULA_START)).then(pl.lit("'") + text).otherwise(text).alias(column)


def spreadsheet_safe_csv(frame: pl.DataFrame) -> str:
    """The frame as CSV text, every cell defused."""
    return frame.select([as_text(column) for column in frame.columns]).write_csv()
