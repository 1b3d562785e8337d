"""Biomarkers: the last value of each registered marker in a window before the prediction day."""
from __future__ import annotations

import pandas as pd

from features.records import KnownRecords
from features.registry import per_patient


def last_marker_value(marker: str, lookback_days: int):
    """The last value in days [prediction_day - lookback_days, prediction_day]."""
    def compute(records: KnownRecords) -> pd.Series:
        end = records.prediction_day
        start = end - lookback_days
        b = records.biomarkers
        rows = b[(b["marker"] == marker) & b["day"].between(start, end)]
        last = rows.sort_values(["patient_id", "day"], kind="stable") \
            .groupby("patient_id")["value"].last()
        return per_patient(records, last).astype("Float64")
    compute.__doc__ = (f"Last {marker} value in the {lookback_days} days up to the prediction "
                       "day. Source: biomarkers.")
    return compute
