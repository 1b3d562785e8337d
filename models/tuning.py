"""Hyperparameter search by cross-validation on the development set only.

Each candidate is scored by out-of-fold log loss over the same seeded folds; the best
candidate's out-of-fold predictions are kept, because they fit the calibrator (cross-fitting).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import ParameterSampler, StratifiedKFold, cross_val_predict

from models.factory import (LOGISTIC_DESIGN_PARAMETERS, SEARCH_SPACES, make_classifier,
                            make_logistic)
from models.layout import FeatureLayout


@dataclass
class SearchResult:
    classifier: str
    space: dict
    candidates: list[dict]          # hyperparameters, cv_log_loss, cv_auroc per candidate
    best: dict                      # chosen hyperparameters
    cv_log_loss: float
    cv_auroc: float
    out_of_fold: np.ndarray         # best candidate's out-of-fold P(response)


def _logistic_out_of_fold(layout: FeatureLayout, X: pd.DataFrame, y: np.ndarray,
                          sampled: list[dict], folds: list, seed: int,
                          progress=None) -> list[np.ndarray]:
    """Out-of-fold predictions of every sampled logistic candidate, building each fold's design
    matrix once per design setting (n_knots) and fitting only the penalised regression per C.

    The same numbers as cross-validating each full pipeline (`cross_val_predict`): a
    Pipeline's fit is the design's fit_transform followed by the classifier's fit, and the
    design does not depend on C. Rebuilding the 35-transformer design for every candidate x
    fold was most of the search's time."""
    predictions = [np.empty(len(y), dtype=float) for _ in sampled]
    groups: dict[tuple, list[int]] = {}
    for i, hyper in enumerate(sampled):
        design_setting = tuple((k, hyper[k]) for k in LOGISTIC_DESIGN_PARAMETERS if k in hyper)
        groups.setdefault(design_setting, []).append(i)
    for design_setting, members in groups.items():
        for train, held_out in folds:
            design = clone(make_logistic(layout, seed, **dict(design_setting))
                           .named_steps["design"])
            train_design = design.fit_transform(X.iloc[train], y[train])
            held_out_design = design.transform(X.iloc[held_out])
            for i in members:
                classifier = make_logistic(layout, seed, **sampled[i]).named_steps["classifier"]
                classifier.fit(train_design, y[train])
                predictions[i][held_out] = classifier.predict_proba(held_out_design)[:, 1]
        if progress is not None:
            for _ in members:
                progress()
    return predictions


def sized_space(classifier: str, n_fit: int) -> dict:
    """The search space for fits on `n_fit` patients. A LightGBM leaf needs at least
    `min_child_samples` patients: in a small cohort the larger settings allow no split at all,
    and such a "model" gives every patient the same chance. Settings above a quarter of the
    patients are dropped (the demo's folds keep every setting)."""
    space = dict(SEARCH_SPACES[classifier])
    if classifier == "lightgbm":
        fitting = [v for v in space["min_child_samples"] if v <= n_fit // 4]
        space["min_child_samples"] = fitting or [max(2, n_fit // 4)]
    return space


def search(classifier: str, layout: FeatureLayout, X: pd.DataFrame, y: np.ndarray,
           budget: int, cv_folds: int, seed: int, progress=None) -> SearchResult:
    folds = list(StratifiedKFold(cv_folds, shuffle=True, random_state=seed).split(X, y))
    space = sized_space(classifier, min(len(train) for train, _ in folds))
    grid_size = int(np.prod([len(v) for v in space.values()]))
    sampled = list(ParameterSampler(space, n_iter=min(budget, grid_size), random_state=seed))
    if classifier == "logistic":
        oofs = _logistic_out_of_fold(layout, X, y, sampled, folds, seed, progress)
    else:
        oofs = None
    candidates, best, best_oof = [], None, None
    for i, hyper in enumerate(sampled):
        if oofs is not None:
            oof = oofs[i]
        else:
            oof = cross_val_predict(make_classifier(classifier, layout, seed, **hyper), X, y,
                                    cv=folds, method="predict_proba")[:, 1]
            if progress is not None:
                progress()
        entry = {"hyperparameters": hyper, "cv_log_loss": float(log_loss(y, oof)),
                 "cv_auroc": float(roc_auc_score(y, oof))}
        candidates.append(entry)
        if best is None or entry["cv_log_loss"] < best["cv_log_loss"]:
            best, best_oof = entry, oof
    return SearchResult(classifier, space, candidates, best["hyperparameters"],
                        best["cv_log_loss"], best["cv_auroc"], best_oof)
