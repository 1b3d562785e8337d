"""DeLong's test for two correlated AUROCs on the same patients, by the fast algorithm of
Sun & Xu (2014, IEEE Signal Processing Letters 21:1389).

DeLong, DeLong & Clarke-Pearson (1988, Biometrics 44:837) write each AUROC as a two-sample
U-statistic; its variance, and the covariance of two AUROCs on the same patients, follow from
the "structural components" (placements): for each responder, the share of non-responders it
out-scores (ties 1/2), and for each non-responder, the share of responders that out-score it.
Sun & Xu compute these from three midrankings instead of all responder × non-responder pairs,
so the cost is O(n log n) rather than O(m × n).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.stats import norm, rankdata

from models.scores import as_arrays


class DeLongResult(NamedTuple):
    """AUROC of each model, their difference (b − a), its DeLong standard error, the two-sided
    p-value of "no difference" and the (1 − alpha) normal interval of the difference."""

    auroc_a: float
    auroc_b: float
    difference: float
    standard_error: float
    z: float
    p_value: float
    lower: float
    upper: float


def placements(y_true, scores) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC and its structural components (V10 per responder, V01 per non-responder).

    Sun & Xu: with midranks T_z over all patients, T_x among responders only and T_y among
    non-responders only, V10_i = (T_z,i − T_x,i) / n and V01_j = 1 − (T_z,j − T_y,j) / m,
    for m responders and n non-responders; AUROC is the mean of V10.
    """
    y, p = as_arrays(y_true, scores)
    positive, negative = p[y == 1], p[y == 0]
    m, n = len(positive), len(negative)
    if m == 0 or n == 0:
        raise ValueError("DeLong's test needs both responders and non-responders")
    overall = rankdata(np.concatenate([positive, negative]))  # midranks: ties count 1/2
    v10 = (overall[:m] - rankdata(positive)) / n
    v01 = 1.0 - (overall[m:] - rankdata(negative)) / m
    return float(v10.mean()), v10, v01


def delong_test(y_true, p_a, p_b, alpha: float = 0.05) -> DeLongResult:
    """Two-sided DeLong test of AUROC(p_b) = AUROC(p_a) on the same patients (paired).

    Var(AUC_b − AUC_a) = (S10_aa + S10_bb − 2 S10_ab) / m + (S01_aa + S01_bb − 2 S01_ab) / n,
    with S10, S01 the sample covariances (denominator m − 1, n − 1) of the placements.
    When the variance is 0 (e.g. identical rankings) the p-value is 1 if the AUROCs are equal
    and NaN otherwise (needs at least two responders and two non-responders).
    """
    y, p_a = as_arrays(y_true, p_a)
    _, p_b = as_arrays(y_true, p_b)
    auc_a, v10_a, v01_a = placements(y, p_a)
    auc_b, v10_b, v01_b = placements(y, p_b)
    m, n = len(v10_a), len(v01_a)
    if m < 2 or n < 2:
        raise ValueError("DeLong's test needs at least two responders and two non-responders")
    s10 = np.cov(np.vstack([v10_a, v10_b]))  # ddof = 1
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    contrast = np.array([-1.0, 1.0])
    variance = float(contrast @ s10 @ contrast / m + contrast @ s01 @ contrast / n)
    difference = auc_b - auc_a
    standard_error = float(np.sqrt(max(variance, 0.0)))
    if standard_error <= 1e-12:
        same = abs(difference) <= 1e-12
        return DeLongResult(auc_a, auc_b, difference, 0.0, 0.0 if same else np.nan,
                            1.0 if same else np.nan, difference, difference)
    z = difference / standard_error
    half_width = norm.ppf(1 - alpha / 2) * standard_error
    return DeLongResult(auc_a, auc_b, difference, standard_error, float(z),
                        float(2 * norm.sf(abs(z))), difference - half_width,
                        difference + half_width)
