"""The evaluation metrics in one place, and the headline figures for reports/metrics.json.

Import from here: ``from models.metrics import headline_metrics, bootstrap_ci, ici, ...``. The
implementations live in small modules by idea (scores, calibration_metrics, bootstrap, decision,
subgroups); this module re-exports them.
"""
from __future__ import annotations

import numpy as np

from models.bootstrap import (BootstrapCI, PairedDifference, bootstrap_ci,
                              paired_bootstrap_difference)
from models.calibration_metrics import (LOWESS_FRAC, CalibrationIndex, calibration_bins,
                                        calibration_intercept_slope, ece, ici,
                                        smoothed_calibration)
from models.decision import decision_curve, default_thresholds, threshold_metrics
from models.scores import (as_arrays, auroc, average_precision, brier, discrimination, log_loss,
                           logit, scaled_brier)
from models.subgroups import age_band, subgroup_metrics

__all__ = [
    "BootstrapCI", "CalibrationIndex", "LOWESS_FRAC", "PairedDifference", "age_band", "auroc",
    "average_precision", "bootstrap_ci", "brier", "calibration_bins",
    "calibration_intercept_slope", "decision_curve", "default_thresholds", "discrimination",
    "ece", "headline_metrics", "ici", "log_loss", "logit", "paired_bootstrap_difference",
    "scaled_brier", "smoothed_calibration", "subgroup_metrics", "threshold_metrics",
]

HEADLINE_KEYS = ("auroc", "auroc_ci", "auprc", "auprc_ci", "brier", "scaled_brier", "log_loss",
                 "calibration_intercept", "calibration_slope", "ici", "e50", "e90", "emax",
                 "ece", "n_test", "prevalence")


def _round(value: float, digits: int) -> float | None:
    """Plain float rounded for JSON; NaN becomes None (JSON has no NaN)."""
    value = float(value)
    return None if np.isnan(value) else round(value, digits)


def headline_metrics(y_true, p, seed, n_resamples: int = 1000, alpha: float = 0.05,
                     n_bins: int = 10, frac: float = LOWESS_FRAC,
                     digits: int = 4) -> dict[str, float | int | list | None]:
    """Flat, JSON-ready dict of the headline test-set figures (keys in ``HEADLINE_KEYS``).

    AUROC and AUPRC carry (1 − alpha) stratified percentile bootstrap intervals as [lower, upper]
    from ``n_resamples`` resamples drawn with ``seed``; both use the same resamples. Values are
    Python floats rounded to ``digits`` decimals (None if undefined); n_test is an int.
    """
    y, p = as_arrays(y_true, p)
    auroc_ci = bootstrap_ci(auroc, y, p, n_resamples=n_resamples, seed=seed, alpha=alpha)
    auprc_ci = bootstrap_ci(average_precision, y, p, n_resamples=n_resamples, seed=seed,
                            alpha=alpha)
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
    out = {key: [_round(v, digits) for v in value] if isinstance(value, list)
           else _round(value, digits) for key, value in values.items()}
    out["n_test"] = len(y)
    return {key: out[key] for key in HEADLINE_KEYS}
