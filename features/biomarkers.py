"""Biomarkers: the last value of each registered marker in a window before the prediction day."""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.records import KnownRecords, in_time_order
from features.registry import per_patient


def last_marker_value(marker: str, lookback_days: int | None):
    """The last value in days [prediction_day - lookback_days, prediction_day]; with
    `lookback_days=None` (a time-invariant marker) the last value at any time before.

    A sample taken after the prediction day's dose is not known (`known_on` cuts it); within an
    earlier day a post-dose sample is the later one."""
    def compute(records: KnownRecords) -> pd.Series:
        end = records.prediction_day
        start = -np.inf if lookback_days is None else end - lookback_days
        b = records.biomarkers
        rows = b[(b["marker"] == marker) & b["day"].between(start, end)]
        last = in_time_order(rows).groupby("patient_id")["value"].last()
        return per_patient(records, last).astype("Float64")
    window = "at any time" if lookback_days is None else f"in the {lookback_days} days"
    compute.__doc__ = f"Last {marker} value {window} up to the prediction day. Source: biomarkers."
    return compute
