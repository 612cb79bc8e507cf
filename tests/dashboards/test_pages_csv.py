"""The outreach CSV opens safely in a spreadsheet: no cell runs as a formula."""
from __future__ import annotations

import csv
import io
from datetime import date

import polars as pl

from dashboards.csv_export import spreadsheet_safe_csv


def test_cells_a_spreadsheet_would_run_get_an_apostrophe() -> None:
    frame = pl.DataFrame({
        "value": ["=1+1", "+44 20 7946 0000", "-2", "@SUM(A1)", "\tx", "\rx", "plain", "a=b", None],
        "n": [1, 2, 3, 4, 5, 6, 7, 8, 9],
    })
    got = [row["value"] for row in csv.DictReader(io.StringIO(spreadsheet_safe_csv(frame)))]
    assert got == ["'=1+1", "'+44 20 7946 0000", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "plain", "a=b", ""]


def test_numbers_dates_and_booleans_are_written_as_they_are() -> None:
    frame = pl.DataFrame({"n": [3], "ok": [True], "day": [date(2026, 11, 9)]})
    assert spreadsheet_safe_csv(frame).splitlines() == ["n,ok,day", "3,true,2026-11-09"]
