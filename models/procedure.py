"""The whole development procedure, as one function: from labelled patients to a calibrated
candidate.

`develop` decides which features the cohort supports, tunes every classifier by cross-validated
log loss, calibrates each on its out-of-fold predictions, chooses the candidate, and refits.
Internal validation (models/resampling.py) repeats exactly this function inside each fold or
bootstrap resample, so the reported performance pays for every choice it makes (feature
selection, classifier, hyperparameters, calibration), not only for the final fit.
Pure computation: no files, no tracking.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

from models.artifact import ResponseModel
from models.calibration import fit_calibrator
from models.factory import CLASSIFIERS, make_classifier
from models.feasibility import CannotTrain, check_features
from models.layout import FeatureLayout
from models.tuning import SearchResult, search


@dataclass(frozen=True)
class Procedure:
    """The settings of the procedure (params `train`), the same for the final model and for
    every resample that validates it."""
    model: str              # auto | a classifier name
    calibrator: str         # platt | isotonic
    cv_folds: int
    search_budget: int
    seed: int
    kinds: tuple[tuple[str, str], ...] = ()   # registry feature kinds (models/layout.py)


@dataclass
class Developed:
    candidate: str                      # the chosen classifier
    models: dict[str, ResponseModel]    # every classifier, refitted and calibrated
    searches: dict[str, SearchResult]
    layout: FeatureLayout
    unusable: dict[str, str]            # classifier -> why it cannot rank patients
    calibrated_log_loss: dict[str, float]   # cross-validated log loss after calibration

    @property
    def comparator(self) -> str:
        """The best of the other classifiers by cross-validated log loss (usable ones first):
        the reference the candidate is compared with."""
        others = [name for name in self.models if name != self.candidate]
        return min(others, key=lambda n: (n in self.unusable, self.calibrated_log_loss[n]))


def develop(dev: pd.DataFrame, y: np.ndarray, procedure: Procedure,
            progress=None) -> Developed:
    """Run the procedure on `dev` (patient_id + feature columns) with labels `y`."""
    layout = FeatureLayout.fit(dev, dict(procedure.kinds))
    check_features(layout.order, layout.excluded)
    X = layout.frame(dev)
    seed = procedure.seed
    searches = {name: search(name, layout, X, y, procedure.search_budget, procedure.cv_folds,
                             seed, progress)
                for name in CLASSIFIERS}
    calibrators = {name: fit_calibrator(procedure.calibrator, y, result.out_of_fold)
                   for name, result in searches.items()}
    unusable = {name: why for name, result in searches.items()
                if (why := no_signal(result, calibrators[name]))}
    # Classifiers compete on what would be deployed: their calibrated out-of-fold predictions.
    # (The two Platt parameters are fitted on the same predictions; the outer resampling, which
    # repeats this choice, measures what optimism that and the choice itself leave.)
    losses = {name: float(log_loss(y, np.clip(calibrators[name].transform(result.out_of_fold),
                                              1e-15, 1 - 1e-15), labels=[0, 1]))
              for name, result in searches.items()}
    chosen = choose(procedure.model, losses, unusable, n_patients=len(y),
                    n_events=int(y.sum()))
    models = {}
    for name, result in searches.items():
        estimator = make_classifier(name, layout, seed, **result.best).fit(X, y)
        info = {"cv_log_loss": result.cv_log_loss, "cv_auroc": result.cv_auroc, "seed": seed,
                "n_development": int(len(y)),
                "development_prevalence": round(float(y.mean()), 6)}
        if name == "logistic":
            # The reference row of exact linear SHAP: the development set's mean design row.
            design = estimator.named_steps["design"]
            info["design_means"] = design.transform(X).mean(axis=0).round(12).tolist()
        models[name] = ResponseModel(
            classifier=name, estimator=estimator, calibrator=calibrators[name],
            layout=layout, hyperparameters=result.best, info=info | (
                {"no_signal": unusable[name]} if name in unusable else {}),
        )
    return Developed(chosen, models, searches, layout, unusable, losses)


def no_signal(result: SearchResult, calibrator) -> str | None:
    """Why a classifier cannot rank patients (None when it can): out-of-fold predictions that
    are all alike, a cross-validated AUROC no better than chance, or a calibration that would
    reverse the ranking (a negative Platt slope turns every explanation upside down)."""
    if np.ptp(result.out_of_fold) < 1e-9:
        return "it gave every patient the same out-of-fold prediction"
    if not result.cv_auroc > 0.5:
        return f"its cross-validated AUROC is {result.cv_auroc:.3f}, no better than chance"
    if getattr(calibrator, "slope", 1.0) <= 0:
        return ("its calibration slope on out-of-fold predictions is "
                f"{calibrator.slope:.3f}: higher predictions went with fewer responses")
    return None


def choose(model: str, losses: dict[str, float], unusable: dict[str, str], *,
           n_patients: int, n_events: int) -> str:
    """The candidate: the requested classifier, or the best calibrated cross-validated log loss
    (`losses`) among those that rank patients. A model that ranks no better than chance would tell every
    patient roughly the same number with a confident-looking report, so none is shipped."""
    usable = [name for name in losses if name not in unusable]
    if model != "auto":
        usable = [model] if model not in unusable else []
    if not usable:
        reasons = "; ".join(f"{name}: {why}" for name, why in unusable.items()
                            if model == "auto" or name == model)
        raise CannotTrain(
            f"no classifier distinguishes patients with the outcome from those without in "
            f"cross-validation on {n_patients:,} development patients ({n_events:,} with the "
            f"outcome) — {reasons}. A model would give every patient about the same chance, "
            "so none is trained. More patients, or characteristics related to the outcome, "
            "are needed.")
    return min(usable, key=lambda n: losses[n])
