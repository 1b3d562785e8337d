"""Per-patient explanations that add up exactly to the calibrated prediction.

On the model's log-odds scale:
  * LightGBM: TreeSHAP values from LightGBM itself (`pred_contrib=True`), exact for the trees;
  * logistic: exact linear SHAP, w_j (z_j - mean_j) per design column against the development
    set's mean design row, summed over each feature's spline and missingness columns;
  * EBM: exact interventional Shapley values with the development cohort as background
    (models/ebm.py). A main term goes to its feature, less its cohort mean. A pair term
    g(x_j, x_k) is shared between its two features: each gets half of g less its cohort mean,
    plus or minus half the difference between g averaged over the cohort's x_k (x_j kept) and
    g averaged over the cohort's x_j (x_k kept). For a pure pair term, whose averages over
    either feature are all zero, that is an equal split. InterpretML 0.7.8 centres its terms
    but does not purify them, so an equal split would not be the Shapley value: on the demo
    much of a pair term is one feature's main effect (docs/explanations.md).
All give model log-odds = base + sum of contributions. The base is the development cohort's
mean model log-odds for the logistic model and the EBM, and TreeSHAP's expected value (the
trees' mean over the patients they were grown on) for LightGBM. The Platt calibrator is linear
on that scale (calibrated log-odds = a + b x model log-odds), so base_cal = a + b x base and
each contribution scales by b: base_cal + sum = logit(calibrated probability), exactly.
Isotonic calibration is a step function; contributions stay on the model's scale and the
remaining `additivity_gap` is reported.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.artifact import ResponseModel
from models.calibration import expit, logit


@dataclass
class Explanation:
    features: list[str]                 # column order of `contributions`
    base_logodds: float                 # calibrated log-odds of the reference patient
    contributions: np.ndarray           # (patients, features), calibrated log-odds
    calibrated_probability: np.ndarray
    additivity_gap: np.ndarray          # logit(p) - (base + sum); 0 up to rounding for Platt

    @property
    def base_probability(self) -> float:
        return float(expit(self.base_logodds))

    def percentage_points(self) -> np.ndarray:
        """Each contribution in percentage points of probability.

        Rule: scale every log-odds contribution by the secant slope of the logistic curve
        between the base and the patient, (p - p_base) / (L - L_base). Contributions then add
        up exactly to 100 x (p - p_base), keep their signs, and keep their proportions; when
        L = L_base the secant becomes the tangent p_base (1 - p_base).
        """
        total = self.contributions.sum(axis=1)
        p_base = self.base_probability
        p_reached = expit(self.base_logodds + total)
        close = np.abs(total) < 1e-9
        slope = np.where(close, p_base * (1 - p_base),
                         (p_reached - p_base) / np.where(close, 1.0, total))
        return 100.0 * self.contributions * slope[:, None]


def model_contributions(model: ResponseModel, features: pd.DataFrame) -> tuple[float, np.ndarray]:
    """(base, contributions) on the model's own log-odds scale, per feature."""
    frame = model.layout.frame(features)
    if model.classifier == "lightgbm":
        raw = model.booster.predict(frame, pred_contrib=True)
        return float(raw[0, -1]) if len(raw) else 0.0, raw[:, :-1]
    if model.classifier == "ebm":
        return model.ebm.contributions(frame)
    design = model.estimator.named_steps["design"]
    classifier = model.estimator.named_steps["classifier"]
    z = design.transform(frame)
    mean = np.asarray(model.info["design_means"], dtype=float)
    weights = classifier.coef_[0]
    per_column = (z - mean) * weights
    contributions = np.column_stack([per_column[:, design.output_indices_[name]].sum(axis=1)
                                     for name in model.layout.order])
    return float(classifier.intercept_[0] + mean @ weights), contributions


def explain(model: ResponseModel, features: pd.DataFrame) -> Explanation:
    base, contributions = model_contributions(model, features)
    # The model's log-odds are the row sums (exact for every classifier), so the probability
    # needs no second pass over the trees: that pass made explaining slower than
    # shap.TreeExplainer (benchmarks/explain.py). Tests check it against predict_proba.
    model_logodds = base + contributions.sum(axis=1)
    if model.calibrator.method == "platt":
        probability = expit(model.calibrator.logodds(model_logodds))
    else:
        probability = model.calibrator.transform(expit(model_logodds))
    if model.calibrator.method == "platt":
        base = model.calibrator.intercept + model.calibrator.slope * base
        contributions = model.calibrator.slope * contributions
    gap = logit(probability) - (base + contributions.sum(axis=1))
    return Explanation(list(model.layout.order), float(base), contributions, probability, gap)


def _as_recorded(column: pd.Series) -> np.ndarray:
    """Each value as `str()` writes it, None when missing; str() runs once per distinct value."""
    out = np.full(len(column), None, dtype=object)
    present = column.notna().to_numpy()
    if present.any():
        codes, uniques = pd.factorize(column[present])
        out[present] = np.array([str(u) for u in uniques], dtype=object)[codes]
    return out


def long_format(ids: np.ndarray, features: pd.DataFrame, explanation: Explanation) -> pd.DataFrame:
    """explanations.csv rows: patient_id, feature, value (as recorded), contributions."""
    n, k = explanation.contributions.shape
    values = np.column_stack([_as_recorded(features[name]) for name in explanation.features]) \
        if k else np.empty((n, 0), dtype=object)
    # Text columns go in as Series: pandas infers their string type once per column, several
    # times faster than inferring inside the DataFrame constructor.
    return pd.DataFrame({
        "patient_id": pd.Series(np.repeat(np.asarray(ids, dtype=object), k)),
        "feature": pd.Series(np.tile(np.array(explanation.features, dtype=object), n)),
        "value": pd.Series(values.reshape(-1)),
        "contribution_logodds": explanation.contributions.reshape(-1),
        "contribution_points": explanation.percentage_points().reshape(-1),
    })
