"""statsmodels' PHReg on counting-process rows of whole weeks: the independent implementation
the Cox model with a term per site (metrics/estimators/site_cox.py) is checked against."""
from __future__ import annotations

import numpy as np
import polars as pl
from statsmodels.duration.hazard_regression import PHReg


def phreg(rows: pl.DataFrame):
    """PHReg on the rows with a dummy per site but the first. PHReg counts a row at risk from
    its entry time on, so entry + 0.5 gives it the (start, stop] of whole weeks."""
    site = rows["site_id"].to_numpy()
    design = np.column_stack([rows["trained"], site[:, None] == np.unique(site)[None, 1:]]).astype(float)
    return PHReg(rows["stop"].to_numpy().astype(float), design, status=rows["event"].to_numpy().astype(float),
                 entry=rows["start"].to_numpy() + 0.5, ties="efron").fit()
