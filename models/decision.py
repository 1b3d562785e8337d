"""Clinical utility: decision curves and classification metrics at chosen thresholds.

A threshold probability pt is the risk at which a clinician is indifferent between giving and
withholding ketamine; its odds pt / (1 − pt) say how many unnecessary treatments one is willing
to give per responder found (Vickers & Elkin 2006). A patient counts as predicted responder when
p ≥ threshold.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.scores import as_arrays


def default_thresholds() -> np.ndarray:
    """0.05, 0.06, …, 0.80: exact two-decimal values (np.arange(0.05, 0.801, 0.01) drifts)."""
    return np.arange(5, 81) / 100


def _confusion(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    predicted = p[None, :] >= thresholds[:, None]
    responder = y[None, :] == 1
    return {
        "tp": (predicted & responder).sum(axis=1),
        "fp": (predicted & ~responder).sum(axis=1),
        "tn": (~predicted & ~responder).sum(axis=1),
        "fn": (~predicted & responder).sum(axis=1),
    }


def _thresholds(thresholds, inclusive: bool = False) -> np.ndarray:
    """Validated 1-D thresholds; strictly inside (0, 1) unless inclusive allows [0, 1]."""
    thresholds = default_thresholds() if thresholds is None else np.atleast_1d(
        np.asarray(thresholds, dtype=float))
    if inclusive:
        bad = (thresholds < 0) | (thresholds > 1)
    else:
        bad = (thresholds <= 0) | (thresholds >= 1)
    if bad.any() or np.isnan(thresholds).any():
        raise ValueError(f"threshold probabilities out of range: {thresholds}")
    return thresholds


def decision_curve(y_true, p, thresholds=None) -> pd.DataFrame:
    """Net benefit of treating by the model, treating all and treating none, per threshold.

    net benefit = TP/n − FP/n × pt / (1 − pt), in units of true responders treated per patient.
    Columns: threshold, tp, fp, net_benefit (the model), net_benefit_treat_all,
    net_benefit_treat_none (always 0). Default thresholds: 0.05–0.80 by 0.01.
    """
    y, p = as_arrays(y_true, p)
    thresholds = _thresholds(thresholds)
    counts = _confusion(y, p, thresholds)
    n = len(y)
    odds = thresholds / (1 - thresholds)
    prevalence = y.mean()
    return pd.DataFrame({
        "threshold": thresholds,
        "tp": counts["tp"],
        "fp": counts["fp"],
        "net_benefit": counts["tp"] / n - counts["fp"] / n * odds,
        "net_benefit_treat_all": prevalence - (1 - prevalence) * odds,
        "net_benefit_treat_none": np.zeros(len(thresholds)),
    })


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (e.g. PPV when nobody is flagged)."""
    numerator = numerator.astype(float)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def threshold_metrics(y_true, p, thresholds) -> pd.DataFrame:
    """Counts, sensitivity, specificity, PPV and NPV per threshold (p ≥ threshold is positive).

    A ratio whose denominator is zero is NaN. Columns: threshold, n_predicted_positive, tp, fp,
    tn, fn, sensitivity, specificity, ppv, npv.
    """
    y, p = as_arrays(y_true, p)
    thresholds = _thresholds(thresholds, inclusive=True)
    c = _confusion(y, p, thresholds)
    return pd.DataFrame({
        "threshold": thresholds,
        "n_predicted_positive": c["tp"] + c["fp"],
        "tp": c["tp"], "fp": c["fp"], "tn": c["tn"], "fn": c["fn"],
        "sensitivity": _ratio(c["tp"], c["tp"] + c["fn"]),
        "specificity": _ratio(c["tn"], c["tn"] + c["fp"]),
        "ppv": _ratio(c["tp"], c["tp"] + c["fp"]),
        "npv": _ratio(c["tn"], c["tn"] + c["fn"]),
    })
