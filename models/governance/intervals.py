"""Intervals for the measures that older evaluations reported as point estimates (Brier, scaled
Brier, log loss, calibration intercept and slope, ICI), computed from the test predictions
they logged, so that a card of such a run still gives every headline measure an interval.

Runs evaluated since issue 13 carry these intervals in reports/metrics.json (the evaluate stage
computes every interval once) and the card only renders them; `txresponse model-card` then
skips this. Same method as the evaluate stage (`models.metrics.metric_intervals`): patients
resampled as drawn, not stratified by outcome, which made the calibration intercept's interval
far too narrow.
"""
from __future__ import annotations

import warnings

import numpy as np

from models.metrics import MORE_INTERVALS, metric_intervals


def extra_intervals(y: np.ndarray, p: np.ndarray, n_resamples: int, seed: int,
                    alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    """{measure: (lower, upper)} for every measure in ``models.metrics.MORE_INTERVALS``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*bootstrap resamples gave NaN.*")
        found = metric_intervals(y, p, MORE_INTERVALS, n_resamples=n_resamples, seed=seed,
                                 alpha=alpha)
    return {name: (ci.lower, ci.upper) for name, ci in found.items()}


def recorded(metrics: dict) -> bool:
    """Whether the evaluate stage already recorded an interval for every headline measure."""
    models = metrics.get("models") or {}
    first = next(iter(models.values()), metrics)
    return all(f"{key}_ci" in first for key in MORE_INTERVALS)
