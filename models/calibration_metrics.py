"""Calibration of predicted probabilities: intercept and slope, ICI family, ECE.

Follows Van Calster et al. 2019 (BMC Medicine 17:230) and Austin & Steyerberg 2019 (Stat Med
38:4051). No Hosmer–Lemeshow test, on purpose.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit
from statsmodels.nonparametric.smoothers_lowess import lowess

from models.scores import as_arrays, batchable, logit

# Span of the lowess smoother: R's lowess() default, the smoother Austin & Steyerberg used.
LOWESS_FRAC = 2 / 3


def _fit_binomial(y: np.ndarray, exog: np.ndarray, offset: np.ndarray | None) -> np.ndarray:
    """Unpenalised logistic regression; NaN coefficients when the fit fails (e.g. separation)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(y, exog, family=sm.families.Binomial(), offset=offset).fit()
        params = np.asarray(fit.params, dtype=float)
        if not (fit.converged and np.isfinite(params).all()):
            return np.full(exog.shape[1], np.nan)
        return params
    except (ValueError, np.linalg.LinAlgError, sm.tools.sm_exceptions.PerfectSeparationError):
        return np.full(exog.shape[1], np.nan)


def calibration_intercept_slope(y_true, p) -> dict[str, float]:
    """Calibration intercept (calibration-in-the-large, ideal 0) and slope (ideal 1).

    slope: coefficient of logit(p) in a logistic regression of y on logit(p); below 1 means the
    predictions are too extreme (overfitting), above 1 too modest.
    intercept: intercept of a logistic regression with logit(p) as offset (slope fixed at 1);
    negative means the probabilities are too high on average, positive too low.
    NaN when the outcome has one class or the fit fails; the slope is NaN too when every
    patient has the same prediction (there is no spread to regress on).
    """
    y, p = as_arrays(y_true, p)
    if y.min() == y.max():
        return {"calibration_intercept": np.nan, "calibration_slope": np.nan}
    log_odds = logit(p)
    ones = np.ones((len(y), 1))
    intercept = _fit_binomial(y, ones, offset=log_odds)[0]
    slope = _fit_binomial(y, np.column_stack([ones, log_odds]), offset=None)[1] \
        if np.ptp(log_odds) > 1e-12 else np.nan
    return {"calibration_intercept": float(intercept), "calibration_slope": float(slope)}


def smoothed_calibration(y_true, p, frac: float = LOWESS_FRAC) -> np.ndarray:
    """Observed response rate smoothed by lowess of y on p, evaluated at each observed p.

    Local linear, tricube weights, R's default interpolation distance, no robustness iterations (it=0: with a 0/1 outcome the
    robustness step would down-weight exactly the patients that carry the signal). Values are
    clipped to [0, 1]. With no spread in p the curve is the observed rate.
    """
    y, p = as_arrays(y_true, p)
    if np.ptp(p) == 0:
        return np.full(len(y), y.mean())
    # delta: R's lowess() default, 1 % of the range. Local fits are computed at points at least
    # that far apart and interpolated in between: linear instead of quadratic in the number of
    # patients (the model card's 1,000 bootstrap ICIs took 2 s each at 25,000 test patients).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        fitted = lowess(y, p, frac=frac, it=0, delta=0.01 * np.ptp(p), return_sorted=False)
    if caught or not np.all(np.isfinite(fitted)):
        # Many patients share one prediction (a model on a few categorical features): every
        # neighbour of such a point is at distance 0, the tricube weights divide by zero, and
        # lowess returns nonsense (an observed rate of 1 where it was 0.5). With so few
        # distinct predictions the calibration curve is the observed rate at each of them.
        return observed_rate_by_prediction(y, p)
    return np.clip(fitted, 0.0, 1.0)


def observed_rate_by_prediction(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Each patient's observed outcome rate among the patients with the same prediction."""
    rates = pd.Series(y, dtype=float).groupby(p).transform("mean")
    return rates.to_numpy()


@dataclass(frozen=True)
class CalibrationIndex:
    """ICI and its quantiles (probability units) and the smoothed curve behind them."""

    ici: float
    e50: float
    e90: float
    emax: float
    curve: pd.DataFrame  # columns predicted, observed; one row per patient, sorted by predicted

    def as_dict(self) -> dict[str, float]:
        return {"ici": self.ici, "e50": self.e50, "e90": self.e90, "emax": self.emax}


def ici(y_true, p, frac: float = LOWESS_FRAC) -> CalibrationIndex:
    """Integrated Calibration Index: mean |smoothed observed rate − predicted| over patients.

    Averaging over patients weights the curve by the distribution of predictions. E50, E90 and
    Emax are the median, 90th percentile and maximum of the same absolute differences.
    """
    y, p = as_arrays(y_true, p)
    observed = smoothed_calibration(y, p, frac=frac)
    gap = np.abs(observed - p)
    order = np.argsort(p, kind="stable")
    curve = pd.DataFrame({"predicted": p[order], "observed": observed[order]})
    return CalibrationIndex(
        ici=float(gap.mean()),
        e50=float(np.median(gap)),
        e90=float(np.quantile(gap, 0.9)),
        emax=float(gap.max()),
        curve=curve,
    )


def calibration_bins(y_true, p, n_bins: int = 10) -> pd.DataFrame:
    """Equal-width bins of predicted probability: n, mean predicted, observed rate per bin.

    Bin k holds k/n_bins ≤ p < (k+1)/n_bins (the last bin includes 1). Empty bins are dropped.
    """
    y, p = as_arrays(y_true, p)
    bin_index = np.clip(np.floor(p * n_bins).astype(int), 0, n_bins - 1)
    frame = pd.DataFrame({"bin": bin_index, "y": y, "p": p})
    grouped = frame.groupby("bin", sort=True)
    out = pd.DataFrame({
        "n": grouped.size(),
        "mean_predicted": grouped["p"].mean(),
        "observed_rate": grouped["y"].mean(),
    }).reset_index()
    out.insert(1, "bin_lower", out["bin"] / n_bins)
    out.insert(2, "bin_upper", (out["bin"] + 1) / n_bins)
    return out


def ece(y_true, p, n_bins: int = 10) -> float:
    """Expected calibration error: Σ_bins (n_bin / n) × |observed rate − mean predicted|."""
    bins = calibration_bins(y_true, p, n_bins=n_bins)
    weights = bins["n"] / bins["n"].sum()
    return float((weights * (bins["observed_rate"] - bins["mean_predicted"]).abs()).sum())


# -- vectorised calibration fits --------------------------------------------------------------
# The maximum-likelihood fits of `calibration_intercept_slope`, by Newton's method on every row
# of a (resamples, patients) array at once: the bootstrap intervals of evaluate need them for
# 1,000 resamples, where one statsmodels fit per resample was the stage's cost.

_MAX_ITERATIONS = 100
_TOLERANCE = 1e-10


# Rows without a finite fit (separation, one outcome) diverge to inf/NaN before they are set
# to NaN at the end; their arithmetic warnings say nothing the NaN does not.
def _quiet():
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


@batchable
def calibration_in_the_large(y_true, p):
    """Calibration intercept (calibration-in-the-large): a in logit P(y) = a + logit(p).

    The same maximum-likelihood fit as ``calibration_intercept_slope``'s intercept (logistic
    regression with logit(p) as offset), by Newton's method on every row of a (resamples,
    patients) array at once. NaN where no finite fit exists (one outcome only).
    """
    y, p = as_arrays(y_true, p)
    offset = logit(p)
    a = np.zeros(y.shape[:-1])
    converged = np.zeros(y.shape[:-1], dtype=bool)
    with _quiet():
        for _ in range(_MAX_ITERATIONS):
            mu = expit(a[..., None] + offset)
            score = (y - mu).sum(axis=-1)
            information = (mu * (1 - mu)).sum(axis=-1)
            step = np.where(converged, 0.0, score / information)
            a = a + step
            converged |= np.abs(step) < _TOLERANCE
            if converged.all():
                break
    events = y.sum(axis=-1)
    undefined = (events == 0) | (events == y.shape[-1]) | ~converged | ~np.isfinite(a)
    out = np.where(undefined, np.nan, a)
    return float(out) if out.ndim == 0 else out


@batchable
def calibration_slope(y_true, p):
    """Calibration slope: b in logit P(y) = a + b logit(p), the maximum-likelihood fit of
    ``calibration_intercept_slope``, by Newton's method on every row at once. NaN where no
    finite fit exists (one outcome only, no spread in p, separation)."""
    y, p = as_arrays(y_true, p)
    z = logit(p)
    shape = y.shape[:-1]
    a, b = np.zeros(shape), np.ones(shape)
    converged = np.zeros(shape, dtype=bool)
    with _quiet():
        for _ in range(_MAX_ITERATIONS):
            mu = expit(a[..., None] + b[..., None] * z)
            r, w = y - mu, mu * (1 - mu)
            g0, g1 = r.sum(axis=-1), (r * z).sum(axis=-1)
            h00, h01, h11 = w.sum(axis=-1), (w * z).sum(axis=-1), (w * z * z).sum(axis=-1)
            det = h00 * h11 - h01 ** 2
            da = np.where(converged, 0.0, (h11 * g0 - h01 * g1) / det)
            db = np.where(converged, 0.0, (h00 * g1 - h01 * g0) / det)
            a, b = a + da, b + db
            converged |= (np.abs(da) < _TOLERANCE) & (np.abs(db) < _TOLERANCE)
            if converged.all():
                break
    events = y.sum(axis=-1)
    undefined = ((events == 0) | (events == y.shape[-1]) | ~converged | ~np.isfinite(b)
                 | (np.ptp(z, axis=-1) <= 1e-12))
    out = np.where(undefined, np.nan, b)
    return float(out) if out.ndim == 0 else out
