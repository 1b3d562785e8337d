"""Which registered features the development data can support.

A clinic rates the scales it uses, exports the tables it has and declares the covariates it
records. A feature that no development patient has, or that has the same value for every
patient who has it, carries no information a model could learn from: it is left out, and the
features report, the feature dictionary, the training report and the model card say which and
why. New patients are then scored without it, and their reports never call it "not recorded".
"""
from __future__ import annotations

import pandas as pd

KEY = "patient_id"


def _shown(value) -> str:
    text = str(value)
    return text if len(text) <= 20 else text[:17] + "..."


def unusable_features(frame: pd.DataFrame,
                      who: str = "development patients") -> dict[str, str]:
    """{feature: reason} for every column of `frame` (one row per development patient) that has
    fewer than two distinct recorded values. The reason is written for the features report;
    `who` names the patients the frame holds."""
    reasons = {}
    n = len(frame)
    for name in frame.columns:
        if name == KEY:
            continue
        recorded = frame[name].dropna()
        if recorded.empty:
            reasons[name] = f"not recorded for any of the {n:,} {who}"
            continue
        distinct = recorded.astype(str).unique()
        if len(distinct) < 2:
            who_has = f"all {n:,} {who}" if len(recorded) == n else \
                f"all {len(recorded):,} {who} who have it ({n - len(recorded):,} have none)"
            reasons[name] = f"the same value ({_shown(distinct[0])}) for {who_has}"
    return reasons
