"""How sure is the model about one patient? Bootstrap refits of the candidate.

Each replicate refits the chosen classifier, with its chosen hyperparameters, on a bootstrap
resample of the development set and fits its own calibrator on its out-of-bag patients (never
on the rows it was trained on). A patient's interval is the calibrated prediction plus or
minus 1.96 standard deviations of the replicates, on the log-odds scale: the range of answers
that models trained on comparable cohorts would give for this patient. It reflects estimation uncertainty (how much the answer depends on which
patients happened to be in the development set), not the outcome's own chance, which the
probability itself expresses. The interval is computed in models/scoring.py
(`probability_interval`); coverage is measured in benchmarks/uncertainty.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.artifact import ResponseModel
from models.calibration import fit_calibrator
from models.factory import make_classifier
from models.layout import FeatureLayout


def bootstrap_replicates(classifier: str, hyperparameters: dict, layout: FeatureLayout,
                         X: pd.DataFrame, y: np.ndarray, *, n_replicates: int, seed: int,
                         calibrator: str, progress=None) -> list[ResponseModel]:
    rng = np.random.default_rng([seed, 7])
    n = len(y)
    replicates = []
    for i in range(n_replicates):
        rows = rng.integers(0, n, n)
        out_of_bag = np.setdiff1d(np.arange(n), rows)
        estimator = make_classifier(classifier, layout, seed + i + 1, **hyperparameters)
        estimator.fit(X.iloc[rows], y[rows])
        oob_p = estimator.predict_proba(X.iloc[out_of_bag])[:, 1]
        replicates.append(ResponseModel(
            classifier=classifier, estimator=estimator,
            calibrator=fit_calibrator(calibrator, y[out_of_bag], oob_p),
            layout=layout, hyperparameters=hyperparameters,
            info={"replicate": i, "n_out_of_bag": int(len(out_of_bag))}))
        if progress is not None:
            progress()
    return replicates


def save_replicates(replicates: list[ResponseModel], folder: Path) -> None:
    for i, replicate in enumerate(replicates):
        replicate.save(folder / f"{i:03d}")


def load_replicates(folder: Path) -> list[ResponseModel]:
    if not folder.exists():
        return []
    return [ResponseModel.load(path) for path in sorted(folder.iterdir()) if path.is_dir()]
