"""Resistance stage: a Maudsley-style score (Fekadu 2018; mapping in docs/features.md).

  duration   episode_months <= 12 -> 1, 13-24 -> 2, > 24 -> 3
  severity   baseline band of the target scale: normal/minimal -> 1 (subsyndromal),
             mild -> 2, moderate -> 3, severe or worse -> 4 (5, severe with psychosis, is not
             in the contract)
  failures   prior failed trials 0 -> 0, 1-2 -> 1, 3-4 -> 2, 5-6 -> 3, 7-10 -> 4, > 10 -> 5
  + 1 for augmentation history, + 1 for ECT history
Failures, augmentation and ECT count in the current episode only (features/history.py), as
the method is defined on the current episode (Fekadu 2009).
Total 3-15 for a patient with at least one failure (mild 3-6, moderate 7-10, severe 11-15).
Any missing component (duration, baseline severity, failed trials, augmentation or ECT: for
instance a treatment history that was not exported) leaves the stage missing rather than
guessing: a missing history scored as 0 would understate resistance.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

_SEVERITY_POINTS = {"normal": 1, "minimal": 1, "mild": 2, "moderate": 3,
                    "moderately severe": 4, "severe": 4, "very severe": 4}


def duration_points(episode_months: pd.Series) -> pd.Series:
    months = episode_months.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    points = np.select([months <= 12, months <= 24], [1.0, 2.0], default=3.0)
    return pd.Series(np.where(np.isnan(months), np.nan, points),
                     index=episode_months.index).astype("Float64")


def failure_points(failed_trials: pd.Series) -> pd.Series:
    bins = [-0.5, 0.5, 2.5, 4.5, 6.5, 10.5, np.inf]
    return pd.cut(failed_trials.astype(float), bins, labels=[0, 1, 2, 3, 4, 5]).astype("Float64")


def severity_points(band: pd.Series) -> pd.Series:
    return band.map(_SEVERITY_POINTS).astype("Float64")


def resistance_stage(episode_months: pd.Series, severity_band: pd.Series,
                     failed_trials: pd.Series, augmentation: pd.Series,
                     ect: pd.Series) -> pd.Series:
    """Maudsley-style total from its components (see module docstring). Unit: points.

    Missing components stay missing: pandas' nullable sum propagates them to the total.
    """
    total = (duration_points(episode_months) + severity_points(severity_band)
             + failure_points(failed_trials)
             + augmentation.astype("Float64") + ect.astype("Float64"))
    return total.astype("Float64")
