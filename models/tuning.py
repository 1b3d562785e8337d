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
from sklearn.model_selection import ParameterSampler, StratifiedKFold

from models.factory import SEARCH_SPACES, make_classifier
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


def out_of_fold(estimator, X: pd.DataFrame, y: np.ndarray, folds: list) -> np.ndarray:
    predictions = np.empty(len(y), dtype=float)
    for train, held_out in folds:
        fitted = clone(estimator).fit(X.iloc[train], y[train])
        predictions[held_out] = fitted.predict_proba(X.iloc[held_out])[:, 1]
    return predictions


def search(classifier: str, layout: FeatureLayout, X: pd.DataFrame, y: np.ndarray,
           budget: int, cv_folds: int, seed: int, progress=None) -> SearchResult:
    space = SEARCH_SPACES[classifier]
    folds = list(StratifiedKFold(cv_folds, shuffle=True, random_state=seed).split(X, y))
    grid_size = int(np.prod([len(v) for v in space.values()]))
    sampled = list(ParameterSampler(space, n_iter=min(budget, grid_size), random_state=seed))
    candidates, best, best_oof = [], None, None
    for hyper in sampled:
        oof = out_of_fold(make_classifier(classifier, layout, seed, **hyper), X, y, folds)
        entry = {"hyperparameters": hyper, "cv_log_loss": float(log_loss(y, oof)),
                 "cv_auroc": float(roc_auc_score(y, oof))}
        candidates.append(entry)
        if best is None or entry["cv_log_loss"] < best["cv_log_loss"]:
            best, best_oof = entry, oof
        if progress is not None:
            progress()
    return SearchResult(classifier, space, candidates, best["hyperparameters"],
                        best["cv_log_loss"], best["cv_auroc"], best_oof)
