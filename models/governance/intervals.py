"""95 % bootstrap intervals for the measures the evaluate stage reports as point estimates
(Brier, scaled Brier, log loss, calibration intercept and slope, ICI), so that the model card
gives every headline measure with an interval (TRIPOD+AI item 23).

Same stratified percentile bootstrap as AUROC (`models.bootstrap`), seeded, on the test
predictions logged by the evaluate stage.
"""
from __future__ import annotations

import numpy as np

from models.bootstrap import bootstrap_ci
from models.calibration_metrics import calibration_intercept_slope, ici
from models.scores import brier, log_loss, scaled_brier


def _intercept(y, p) -> float:
    return calibration_intercept_slope(y, p)["calibration_intercept"]


def _slope(y, p) -> float:
    return calibration_intercept_slope(y, p)["calibration_slope"]


def _ici(y, p) -> float:
    return ici(y, p).ici


MEASURES = {"brier": brier, "scaled_brier": scaled_brier, "log_loss": log_loss,
            "calibration_intercept": _intercept, "calibration_slope": _slope, "ici": _ici}


def extra_intervals(y: np.ndarray, p: np.ndarray, n_resamples: int, seed: int,
                    alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    """{measure: (lower, upper)} for every measure in MEASURES."""
    return {name: tuple(bootstrap_ci(fn, y, p, n_resamples=n_resamples, seed=seed,
                                     alpha=alpha)[1:])
            for name, fn in MEASURES.items()}
