"""Calibrators fitted on cross-fitted (out-of-fold) predictions of the development set.

Platt (default) is a logistic map on the model's log-odds: calibrated log-odds =
intercept + slope × model log-odds. Because it is linear on the log-odds scale, per-patient
SHAP contributions scale by `slope` and still add up exactly to the calibrated prediction.
Isotonic is available but is a step function: contributions then no longer add up exactly,
and every output says so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of p clipped to [1e-6, 1 − 1e-6]: a probability of 0 or 1 gets a finite
    log-odds (scipy's own logit gives ±inf there)."""
    return special.logit(np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS))


@dataclass(frozen=True)
class PlattCalibrator:
    intercept: float
    slope: float
    method: str = "platt"
    exactly_additive: bool = True

    def logodds(self, model_logodds: np.ndarray) -> np.ndarray:
        return self.intercept + self.slope * np.asarray(model_logodds, dtype=float)

    def transform(self, p: np.ndarray) -> np.ndarray:
        return expit(self.logodds(logit(p)))

    def to_dict(self) -> dict:
        return {"method": self.method, "intercept": self.intercept, "slope": self.slope,
                "exactly_additive": True}


@dataclass(frozen=True)
class IsotonicCalibrator:
    x: tuple[float, ...]
    y: tuple[float, ...]
    method: str = "isotonic"
    exactly_additive: bool = False

    def transform(self, p: np.ndarray) -> np.ndarray:
        calibrated = np.interp(np.asarray(p, dtype=float), self.x, self.y)
        return np.clip(calibrated, _EPS, 1 - _EPS)

    def to_dict(self) -> dict:
        return {"method": self.method, "x": list(self.x), "y": list(self.y),
                "exactly_additive": False,
                "note": "isotonic calibration breaks exact additivity of explanations"}


Calibrator = PlattCalibrator | IsotonicCalibrator


# A Platt slope beyond this means separation, not calibration: predictions already on the
# log-odds scale are never off by a factor of 50 in a model that converged.
MAX_PLATT_SLOPE = 50.0


def _separated(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether a threshold on x puts every patient with the outcome on one side."""
    if y.min() == y.max():
        return False
    with_outcome, without = x[y == 1], x[y == 0]
    return bool(with_outcome.min() >= without.max() or with_outcome.max() <= without.min())


def fit_calibrator(method: str, y: np.ndarray, p_out_of_fold: np.ndarray) -> Calibrator:
    """Fit on out-of-fold predictions only: calibrating on in-sample predictions would learn
    the model's overfit, not its real miscalibration."""
    y = np.asarray(y, dtype=int)
    if method == "platt":
        x = logit(p_out_of_fold).reshape(-1, 1)
        fit = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000)  # unpenalised
        fit.fit(x, y)
        intercept, slope = float(fit.intercept_[0]), float(fit.coef_[0, 0])
        if _separated(x[:, 0], y) or not (np.isfinite(slope) and abs(slope) <= MAX_PLATT_SLOPE):
            # The out-of-fold predictions separate the outcomes (small or out-of-bag sets):
            # the unpenalised estimate does not exist, the fit diverges (slopes of several
            # hundred were seen) and every calibrated probability becomes 0 or 1. A ridge
            # penalty keeps it finite.
            fit = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(x, y)
            intercept, slope = float(fit.intercept_[0]), float(fit.coef_[0, 0])
        return PlattCalibrator(intercept=intercept, slope=slope)
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(np.asarray(p_out_of_fold, dtype=float), y)
        return IsotonicCalibrator(x=tuple(map(float, iso.X_thresholds_)),
                                  y=tuple(map(float, iso.y_thresholds_)))
    raise ValueError(f"unknown calibrator {method!r}: use platt or isotonic")


def calibrator_from_dict(data: dict) -> Calibrator:
    if data["method"] == "platt":
        return PlattCalibrator(intercept=float(data["intercept"]), slope=float(data["slope"]))
    if data["method"] == "isotonic":
        return IsotonicCalibrator(x=tuple(data["x"]), y=tuple(data["y"]))
    raise ValueError(f"unknown calibrator {data['method']!r}")
