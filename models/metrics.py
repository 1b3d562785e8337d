"""The evaluation metrics in one place, and the headline figures for reports/metrics.json.

Import from here: ``from models.metrics import headline_metrics, bootstrap_ci, ici, ...``. The
implementations live in small modules by idea (scores, calibration_metrics, bootstrap, decision,
subgroups); this module re-exports them, and holds the choice of resampling behind every
interval (``INTERVAL_METHOD``).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import numpy as np

from models.bootstrap import (BootstrapCI, PairedDifference, bootstrap_ci, bootstrap_many,
                              paired_bootstrap_difference)
from models.calibration_metrics import (LOWESS_FRAC, CalibrationIndex, calibration_bins,
                                        calibration_in_the_large, calibration_intercept_slope,
                                        calibration_slope, ece, ici, smoothed_calibration)
from models.decision import decision_curve, default_thresholds, threshold_metrics
from models.scores import (as_arrays, auroc, average_precision, brier, discrimination,
                           log_loss, logit, scaled_brier)
from models.subgroups import age_band, subgroup_metrics  # imports this module when called

__all__ = [
    "BootstrapCI", "CalibrationIndex", "INTERVAL_METHOD", "LOWESS_FRAC", "PairedDifference",
    "age_band", "auroc", "average_precision", "bootstrap_ci", "bootstrap_many", "brier",
    "calibration_bins", "calibration_in_the_large", "calibration_intercept_slope",
    "calibration_slope", "decision_curve", "default_thresholds", "discrimination", "ece",
    "headline_metrics", "ici", "log_loss", "logit", "metric_intervals",
    "paired_bootstrap_difference", "scaled_brier", "smoothed_calibration", "subgroup_metrics",
    "threshold_metrics",
]

HEADLINE_KEYS = ("auroc", "auroc_ci", "auprc", "auprc_ci", "brier", "scaled_brier", "log_loss",
                 "calibration_intercept", "calibration_slope", "ici", "e50", "e90", "emax",
                 "ece", "n_test", "prevalence")
# Measures that get an interval only for the calibrated candidate (``all_intervals``).
MORE_INTERVALS = ("brier", "scaled_brier", "log_loss", "calibration_intercept",
                  "calibration_slope", "ici")


def _ici(y, p) -> float:
    return ici(y, p).ici


# -- which bootstrap for which measure ------------------------------------------------------

# Every measure the evaluate stage gives an interval, with its metric function and resampling.
# "stratified": responders and non-responders resampled separately (counts kept); for
# measures conditional on the outcome, as before (and pROC's default for AUROC).
# "patients": patients resampled as drawn, so the response rate varies as it would in another
# test sample; for every measure that depends on it. The intercept's stratified interval
# covered the true value about half the time (tests/model/test_metrics_intervals.py).
INTERVAL_METHOD: dict[str, tuple[Callable, str]] = {
    "auroc": (auroc, "stratified"),
    "auprc": (average_precision, "stratified"),
    "brier": (brier, "patients"),
    "scaled_brier": (scaled_brier, "patients"),
    "log_loss": (log_loss, "patients"),
    "calibration_intercept": (calibration_in_the_large, "patients"),
    "calibration_slope": (calibration_slope, "patients"),
    "ici": (_ici, "patients"),
}


def metric_intervals(y_true, p, measures: Iterable[str], n_resamples: int, seed,
                     alpha: float = 0.05) -> dict[str, BootstrapCI]:
    """Percentile bootstrap interval of each named measure, resampled as ``INTERVAL_METHOD``
    says; measures with the same resampling share their resamples."""
    y, p = as_arrays(y_true, p)
    measures = list(measures)
    out: dict[str, BootstrapCI] = {}
    for method in ("stratified", "patients"):
        fns = {name: INTERVAL_METHOD[name][0] for name in measures
               if INTERVAL_METHOD[name][1] == method}
        if fns:
            out |= bootstrap_many(fns, y, p, n_resamples=n_resamples, seed=seed, alpha=alpha,
                                  stratified=method == "stratified")
    return {name: out[name] for name in measures}


def _round(value: float, digits: int) -> float | None:
    """Plain float rounded for JSON; NaN becomes None (JSON has no NaN)."""
    value = float(value)
    return None if np.isnan(value) else round(value, digits)


def headline_metrics(y_true, p, seed, n_resamples: int = 1000, alpha: float = 0.05,
                     n_bins: int = 10, frac: float = LOWESS_FRAC, digits: int = 4,
                     all_intervals: bool = False) -> dict[str, float | int | list | None]:
    """Flat, JSON-ready dict of the headline test-set figures (keys in ``HEADLINE_KEYS``).

    AUROC and AUPRC carry (1 − alpha) stratified percentile bootstrap intervals as [lower, upper]
    from ``n_resamples`` resamples drawn with ``seed``; both use the same resamples. With
    ``all_intervals`` (the calibrated candidate) Brier, scaled Brier, log loss, calibration
    intercept and slope and ICI get one too, as ``<key>_ci`` right after the key, from resamples
    of patients (``INTERVAL_METHOD``). Values are Python floats rounded to ``digits`` decimals
    (None if undefined); n_test is an int.
    """
    y, p = as_arrays(y_true, p)
    wanted = ["auroc", "auprc", *(MORE_INTERVALS if all_intervals else ())]
    with warnings.catch_warnings():
        # A resample with one outcome has no calibration fit; at test-set sizes that is rare,
        # and the interval is made from the others.
        warnings.filterwarnings("ignore", message=".*bootstrap resamples gave NaN.*")
        intervals = metric_intervals(y, p, wanted, n_resamples=n_resamples, seed=seed,
                                     alpha=alpha)
    auroc_ci, auprc_ci = intervals["auroc"], intervals["auprc"]
    calibration = calibration_intercept_slope(y, p)
    index = ici(y, p, frac=frac)
    values = {
        "auroc": auroc_ci.estimate,
        "auroc_ci": [auroc_ci.lower, auroc_ci.upper],
        "auprc": auprc_ci.estimate,
        "auprc_ci": [auprc_ci.lower, auprc_ci.upper],
        "brier": brier(y, p),
        "scaled_brier": scaled_brier(y, p),
        "log_loss": log_loss(y, p),
        "calibration_intercept": calibration["calibration_intercept"],
        "calibration_slope": calibration["calibration_slope"],
        **index.as_dict(),
        "ece": ece(y, p, n_bins=n_bins),
        "prevalence": y.mean(),
    }
    for key in MORE_INTERVALS if all_intervals else ():
        values[f"{key}_ci"] = [intervals[key].lower, intervals[key].upper]
    out = {key: [_round(v, digits) for v in value] if isinstance(value, list)
           else _round(value, digits) for key, value in values.items()}
    out["n_test"] = len(y)
    keys = [k for key in HEADLINE_KEYS
            for k in (key, *((f"{key}_ci",) if f"{key}_ci" in out and key in MORE_INTERVALS
                             else ()))]
    return {key: out[key] for key in keys}
