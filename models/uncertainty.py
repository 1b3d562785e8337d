"""How sure is the model about one patient? Bootstrap refits of the candidate.

Each replicate refits the chosen classifier, with its chosen hyperparameters, on a bootstrap
resample of the development set and fits its own calibrator on its out-of-bag patients (never
on the rows it was trained on). A patient's range is the calibrated prediction plus or minus
1.96 standard deviations of the replicates, on the log-odds scale: the range of answers that
models trained on comparable cohorts would give for this patient. It reflects estimation
uncertainty (how much the answer depends on which patients happened to be in the development
set), not the outcome's own chance, which the probability itself expresses.

It is therefore called an *estimation range*, not a 95 % interval: built like one (± 1.96 SDs),
it does not contain the patient's true probability 95 % of the time, and it leaves out the
variation from re-choosing the classifier and hyperparameters. What it does contain, measured
by benchmarks/uncertainty.py on simulated cohorts, is in ``MEASURED_COVERAGE`` below, and every
explanation (``models.scoring.explanation_meta``) and the evaluate stage (hence the model card)
quote it. The range is computed in models/scoring.py (`probability_interval`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.artifact import ResponseModel
from models.calibration import fit_calibrator
from models.factory import make_classifier
from models.layout import FeatureLayout

INTERVAL_NAME = "estimation range"

# benchmarks/uncertainty.py's `measured_coverage`, copied from docs/benchmarks/uncertainty.json
# (a test checks they agree: re-run the benchmark, then copy its block here). Shares of
# simulated test patients: the true probability inside the range; the prediction of a model
# trained by the default pipeline on an independent cohort from the same clinics inside it
# (83.4 % expected even if the range were exact, since both are estimates).
MEASURED_COVERAGE: dict = {
    "what": "the calibrated prediction plus or minus 1.96 standard deviations of the bootstrap "
            "refits' calibrated log-odds (chosen classifier and hyperparameters kept)",
    "source": "benchmarks/uncertainty.py (docs/benchmarks.md)",
    "date": "2026-12-02",
    "replicates": 20,
    "independent_model_expected": 0.834,
    "by_size": [
        {"n_development": 1500, "n_development_labelled": 1334, "n_test": 5000, "repeats": 5,
         "true_probability": 0.688, "true_probability_range": [0.608, 0.703],
         "reachable_probability": 0.788, "independent_model": 0.782, "mean_width": 0.278},
        {"n_development": 3000, "n_development_labelled": 2670, "n_test": 5000, "repeats": 5,
         "true_probability": 0.659, "true_probability_range": [0.579, 0.694],
         "reachable_probability": 0.769, "independent_model": 0.742, "mean_width": 0.237},
    ],
}


def quoted_coverage(n_development: int | None) -> dict | None:
    """The benchmark's measurement nearest in size to a model's development cohort (labelled
    patients; the largest measured when unknown), with when and how it was measured."""
    sizes = MEASURED_COVERAGE.get("by_size") or []
    if not sizes:
        return None
    if n_development:
        chosen = min(sizes, key=lambda m: abs(m["n_development_labelled"] - n_development))
    else:
        chosen = max(sizes, key=lambda m: m["n_development_labelled"])
    keep = ("date", "source", "replicates", "independent_model_expected")
    return {k: MEASURED_COVERAGE[k] for k in keep} | chosen


def coverage_statement(measured: dict | None, n_replicates: int | None = None) -> str:
    """One plain sentence: what the range contained when it was measured."""
    if not measured:
        return ("Its coverage has not been measured: treat it as showing how much the estimate "
                "depends on the patients the model learned from, not as a 95 % range for the "
                "true chance.")
    pct = lambda x: f"{round(100 * x)} %"  # noqa: E731
    low, high = measured["true_probability_range"]
    refits = ("" if n_replicates in (None, measured["replicates"]) else
              f" (measured with {measured['replicates']} refits; this model has "
              f"{n_replicates})")
    return (f"In the project's simulation benchmark ({measured['date']}; development cohorts "
            f"of {measured['n_development_labelled']:,} labelled patients, "
            f"{measured['repeats']} repeats on {measured['n_test']:,} test patients) this range "
            f"contained the patient's true probability for {pct(measured['true_probability'])} "
            f"of patients (median of the repeats; {pct(low)} to {pct(high)}), not 95 %, and "
            f"the prediction of a model trained on another cohort from the same clinics for "
            f"{pct(measured['independent_model'])} "
            f"({pct(measured['independent_model_expected'])} if the range were exact, since "
            f"both models are estimates){refits}. It shows how much "
            "the estimate depends on which patients the model learned from, not how far the "
            "true chance may lie from it.")


def interval_description(n_replicates: int | None, n_development: int | None) -> dict:
    """What the per-patient range is and how often it held: the fields the explanation meta
    (clinician reports) and the evaluate stage (model card) carry."""
    measured = quoted_coverage(n_development)
    if n_replicates == 0:
        return {"name": INTERVAL_NAME, "construction": "none: the model has no bootstrap refits "
                "(train.uncertainty_replicates is 0)", "replicates": 0,
                "measured_coverage": None,
                "coverage_statement": "This model was trained without bootstrap refits, so its "
                                      "predictions come without an estimation range."}
    return {"name": INTERVAL_NAME,
            "construction": "the calibrated prediction plus or minus 1.96 standard deviations "
                            f"of {n_replicates if n_replicates is not None else 'the'} bootstrap "
                            "refits' calibrated log-odds; each refit keeps the chosen classifier "
                            "and hyperparameters",
            "replicates": n_replicates,
            "measured_coverage": measured,
            "coverage_statement": coverage_statement(measured, n_replicates)}


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
    """The refits saved by `save_replicates`. Each is a model folder like the candidate's and
    goes through the same checks (`ResponseModel.load`: exact allow-list of skops types, LightGBM
    text read in Python first), so a tampered replicate is refused like a tampered model."""
    if not folder.exists():
        return []
    return [ResponseModel.load(path) for path in sorted(folder.iterdir()) if path.is_dir()]
