"""Train both classifiers, choose the candidate, calibrate by cross-fitting, refit on all of the
development set. Pure computation: no files, no tracking."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from models.artifact import ResponseModel
from models.calibration import fit_calibrator
from models.factory import CLASSIFIERS, make_classifier
from models.feasibility import CannotTrain, check_features
from models.layout import KEY, FeatureLayout
from models.ood import DomainReference, fit_domain
from models.sample_size import Assessment, assess, cox_snell_r2
from models.tuning import SearchResult, search
from models.uncertainty import bootstrap_replicates


@dataclass
class TrainingOutcome:
    candidate: str                      # name of the chosen classifier
    models: dict[str, ResponseModel]    # every classifier, fitted and calibrated
    searches: dict[str, SearchResult]
    layout: FeatureLayout
    n_development: int
    development_prevalence: float
    domain: DomainReference | None = None
    replicates: list[ResponseModel] | None = None   # bootstrap refits of the candidate
    sample_size: Assessment | None = None           # Riley et al. minimum against the cohort

    @property
    def comparator(self) -> str:
        return next(name for name in self.models if name != self.candidate)


def development_data(features: pd.DataFrame, labels: pd.DataFrame,
                     split: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    dev_ids = split.loc[split["set"] == "development", KEY]
    frame = features.merge(labels[[KEY, "label"]], on=KEY).set_index(KEY).loc[dev_ids]
    y = frame.pop("label").astype(int).to_numpy()
    return frame.reset_index(), y


def train(features: pd.DataFrame, labels: pd.DataFrame, split: pd.DataFrame, *, model: str,
          calibrator: str, cv_folds: int, search_budget: int, seed: int,
          uncertainty_replicates: int = 0, progress=None,
          kinds: dict[str, str] | None = None) -> TrainingOutcome:
    """Tune, calibrate and refit both classifiers on the development patients. `kinds` are the
    registry's feature kinds (numeric, binary, categorical; models/layout.py)."""
    # One BLAS thread. The matrices are small (thousands of rows, a few hundred design
    # columns): a multi-threaded OpenBLAS spends more time handing work between threads than
    # computing, and on a busy 2-core machine the logistic fits ran 10-40 times slower than on
    # one thread (docs/training.md, "Training cost"). LightGBM already runs on one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(features, labels, split, model=model, calibrator=calibrator,
                      cv_folds=cv_folds, search_budget=search_budget, seed=seed,
                      uncertainty_replicates=uncertainty_replicates, progress=progress,
                      kinds=kinds)


def _train(features: pd.DataFrame, labels: pd.DataFrame, split: pd.DataFrame, *, model: str,
           calibrator: str, cv_folds: int, search_budget: int, seed: int,
           uncertainty_replicates: int, progress, kinds: dict[str, str] | None
           ) -> TrainingOutcome:
    dev, y = development_data(features, labels, split)
    layout = FeatureLayout.fit(dev, kinds)
    check_features(layout.order, layout.excluded)
    X = layout.frame(dev)
    searches = {name: search(name, layout, X, y, search_budget, cv_folds, seed, progress)
                for name in CLASSIFIERS}
    calibrators = {name: fit_calibrator(calibrator, y, result.out_of_fold)
                   for name, result in searches.items()}
    unusable = {name: why for name, result in searches.items()
                if (why := no_signal(result, calibrators[name]))}
    chosen = choose(model, searches, unusable, n_patients=len(y), n_events=int(y.sum()))
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
            classifier=name, estimator=estimator,
            calibrator=calibrators[name],
            layout=layout, hyperparameters=result.best, info=info | (
                {"no_signal": unusable[name]} if name in unusable else {}),
        )
    replicates = bootstrap_replicates(chosen, searches[chosen].best, layout, X, y,
                                      n_replicates=uncertainty_replicates, seed=seed,
                                      calibrator=calibrator, progress=progress)
    return TrainingOutcome(chosen, models, searches, layout, int(len(y)), float(y.mean()),
                           domain=fit_domain(layout, X), replicates=replicates,
                           sample_size=sample_size_adequacy(models, searches[chosen], chosen, y))


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


def choose(model: str, searches: dict[str, SearchResult], unusable: dict[str, str], *,
           n_patients: int, n_events: int) -> str:
    """The candidate: the requested classifier, or the best cross-validated log loss among
    those that rank patients. A model that ranks no better than chance would tell every
    patient roughly the same number with a confident-looking report, so none is shipped."""
    usable = [name for name in searches if name not in unusable]
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
    return min(usable, key=lambda n: searches[n].cv_log_loss)


def candidate_parameters(logistic: ResponseModel) -> int:
    """Candidate predictor parameters, as Riley et al. count them: every term the flexible
    additive model estimates (spline bases, missingness indicators, category levels). The same
    count stands for LightGBM, which is at least as flexible."""
    return len(logistic.info["design_means"])


def sample_size_adequacy(models: dict[str, ResponseModel], chosen_search: SearchResult,
                         chosen: str, y: np.ndarray) -> Assessment:
    """The development cohort against the minimum sample size (Riley et al. 2019/2020), with the
    anticipated R² taken from the candidate's cross-validated, calibrated predictions: an honest
    guess of what a model can explain in this population."""
    calibrated = models[chosen].calibrator.transform(chosen_search.out_of_fold)
    return assess(int(len(y)), int(y.sum()), candidate_parameters(models["logistic"]),
                  cox_snell_r2(y, calibrated))
