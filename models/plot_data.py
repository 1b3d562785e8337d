"""Tidy tables behind the evaluation plots, one model at a time, for DVC plots (CSV/JSON).

Each table has plain x/y columns a ``dvc.yaml`` ``plots`` entry can name directly; write one
file per model (or concatenate with a ``model`` column) so ``dvc plots diff`` overlays runs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from models.calibration_metrics import LOWESS_FRAC, smoothed_calibration
from models.decision import decision_curve
from models.scores import as_arrays


def roc_points(y_true, p) -> pd.DataFrame:
    """ROC curve: fpr (x), tpr (y), threshold. Collinear points dropped.

    The first point's threshold is 1.0 rather than scikit-learn's inf, which JSON cannot hold;
    with probabilities below 1 both mean "nobody flagged".
    """
    y, p = as_arrays(y_true, p)
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=True)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(thresholds, 1.0)})


def calibration_points(y_true, p, frac: float = LOWESS_FRAC, n_points: int = 101) -> pd.DataFrame:
    """Lowess calibration curve: predicted (x), observed (y), on a grid across the observed p.

    The per-patient curve is interpolated onto ``n_points`` evenly spaced predictions between the
    smallest and largest p, so the file size does not grow with the test set and no row maps to
    a single patient.
    """
    y, p = as_arrays(y_true, p)
    observed = smoothed_calibration(y, p, frac=frac)
    order = np.argsort(p, kind="stable")
    grid = np.linspace(p.min(), p.max(), n_points)
    # Tied predictions share one smoothed value, so interpolating over sorted p is well defined.
    curve = np.interp(grid, p[order], observed[order])
    return pd.DataFrame({"predicted": grid, "observed": curve})


def decision_points(y_true, p, thresholds=None) -> pd.DataFrame:
    """Decision curve: threshold (x) and net benefit of model, treat-all and treat-none (ys)."""
    curve = decision_curve(y_true, p, thresholds)
    return curve.rename(columns={"net_benefit": "model", "net_benefit_treat_all": "treat_all",
                                 "net_benefit_treat_none": "treat_none"})[
        ["threshold", "model", "treat_all", "treat_none"]]
