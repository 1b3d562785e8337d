"""Baseline severity on each registered rating scale."""
from __future__ import annotations

import pandas as pd

from features.records import KnownRecords, in_time_order, pre_dose
from features.registry import per_patient
from pipeline.core.registries import Instrument


def last_score_in_window(assessments: pd.DataFrame, instrument: str,
                         window: tuple[int, int]) -> pd.DataFrame:
    """The last rating of `instrument` with window[0] <= day <= window[1], per patient.

    Returns columns `score` and `day` indexed by patient_id. Ratings are ordered by day and,
    within a day, a post-dose rating comes after a pre-dose or unmarked one; the validate stage
    guarantees one score per instrument, day and timing. Whether post-dose ratings may count at
    all is the caller's choice (a baseline never takes one: `baseline_ratings`).
    """
    start, end = window
    rows = assessments[(assessments["instrument"] == instrument)
                       & assessments["day"].between(start, end)]
    last = in_time_order(rows).groupby("patient_id").last()
    return last[["score", "day"]]


def baseline_ratings(assessments: pd.DataFrame) -> pd.DataFrame:
    """The ratings that may be a baseline: none taken after a dose. A post-dose rating on day 0
    already shows ketamine's rapid effect; an unmarked rating is taken as pre-dose."""
    return pre_dose(assessments)


def baseline_window_known(records: KnownRecords, window: tuple[int, int]) -> tuple[int, int]:
    """The baseline window clipped to the prediction day: nothing later is ever a baseline."""
    return window[0], min(window[1], records.prediction_day)


def baseline_score(instrument: str, window: tuple[int, int]):
    def compute(records: KnownRecords) -> pd.Series:
        last = last_score_in_window(baseline_ratings(records.assessments), instrument,
                                    baseline_window_known(records, window))
        return per_patient(records, last["score"]).astype("Float64")
    compute.__doc__ = (f"Last pre-dose {instrument} total in the baseline window {list(window)} "
                       f"(clipped to the prediction day). Source: assessments.")
    return compute


def baseline_severity_band(instrument: Instrument, window: tuple[int, int]):
    def compute(records: KnownRecords) -> pd.Series:
        score = baseline_score(instrument.key, window)(records)
        band = score.map(lambda s: None if pd.isna(s) else instrument.severity_band(s))
        return band.astype("str").where(band.notna(), None).astype(object)
    compute.__doc__ = f"Severity band of the baseline {instrument.label} (registry bands)."
    return compute
