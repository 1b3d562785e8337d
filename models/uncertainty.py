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
        rows, out_of_bag = _resample(rng, y)
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


def _resample(rng: np.random.Generator, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bootstrap rows, out-of-bag rows), both holding responders and non-responders.

    A small cohort can draw a resample (or leave an out-of-bag set) with one class only, which
    no classifier or calibrator can be fitted to; such a draw is redrawn. Larger cohorts
    practically never redraw, so their replicates are those of a plain bootstrap.
    """
    n = len(y)
    for _ in range(1000):
        rows = rng.integers(0, n, n)
        out_of_bag = np.setdiff1d(np.arange(n), rows)
        if len(np.unique(y[rows])) == 2 and len(np.unique(y[out_of_bag])) == 2:
            return rows, out_of_bag
    raise ValueError(f"no bootstrap resample of {n} development patients holds both outcomes "
                     "in and out of the bag: too few responders or non-responders")


def save_replicates(replicates: list[ResponseModel], folder: Path) -> None:
    for i, replicate in enumerate(replicates):
        replicate.save(folder / f"{i:03d}")


def load_replicates(folder: Path) -> list[ResponseModel]:
    if not folder.exists():
        return []
    return [ResponseModel.load(path) for path in sorted(folder.iterdir()) if path.is_dir()]
