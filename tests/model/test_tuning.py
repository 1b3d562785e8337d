"""The hyperparameter search: the shared-design logistic search gives exactly the numbers of
cross-validating every full pipeline, and the search is reproducible."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from models.factory import make_classifier
from models.layout import FeatureLayout
from models.tuning import search


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({
        "patient_id": [f"p{i:04d}" for i in range(n)],
        "age": rng.normal(45, 12, n),
        "madrs": rng.normal(32, 6, n),
        "prior_ect": rng.integers(0, 2, n).astype(float),
        "route": rng.choice(["intravenous", "intranasal"], n),
    })
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    z = (0.05 * (frame["madrs"] - 32) - 0.6 * frame["prior_ect"]
         + 0.002 * (frame["age"].fillna(45) - 45) ** 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int).to_numpy()
    layout = FeatureLayout.fit(frame)
    return layout, layout.frame(frame), y


def test_shared_design_search_equals_cross_validating_each_pipeline(data):
    layout, X, y = data
    result = search("logistic", layout, X, y, budget=5, cv_folds=3, seed=4)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=4).split(X, y))
    assert len(result.candidates) == 5
    for entry in result.candidates:
        oof = cross_val_predict(make_classifier("logistic", layout, 4, **entry["hyperparameters"]),
                                X, y, cv=folds, method="predict_proba")[:, 1]
        assert entry["cv_log_loss"] == pytest.approx(log_loss(y, oof), rel=1e-12, abs=0)
    best = min(result.candidates, key=lambda e: e["cv_log_loss"])
    assert result.best == best["hyperparameters"]


def test_search_is_reproducible_and_reports_progress(data):
    layout, X, y = data
    calls = []
    a = search("logistic", layout, X, y, budget=4, cv_folds=3, seed=4,
               progress=lambda: calls.append(1))
    b = search("logistic", layout, X, y, budget=4, cv_folds=3, seed=4)
    assert len(calls) == 4
    assert a.candidates == b.candidates
    assert np.array_equal(a.out_of_fold, b.out_of_fold)
