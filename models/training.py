"""Develop the deployed model (models/procedure.py) and validate its procedure internally
(models/resampling.py). Pure computation: no files, no tracking."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from models import resampling
from models.artifact import ResponseModel
from models.feasibility import CannotTrain
from models.layout import KEY, FeatureLayout
from models.ood import DomainReference, fit_domain
from models.procedure import Procedure, develop
from models.sample_size import Assessment, assess, cox_snell_r2
from models.tuning import SearchResult
from models.uncertainty import bootstrap_replicates
from models.validation_files import Validated


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
    comparator: str = ""                            # the best other classifier
    calibrated_log_loss: dict[str, float] = field(default_factory=dict)
    validation: Validated | None = None             # internal validation (models/resampling.py)


def development_data(features: pd.DataFrame, labels: pd.DataFrame,
                     split: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    dev_ids = split.loc[split["set"] == "development", KEY]
    frame = features.merge(labels[[KEY, "label"]], on=KEY).set_index(KEY).loc[dev_ids]
    y = frame.pop("label").astype(int).to_numpy()
    return frame.reset_index(), y


def train(features: pd.DataFrame, labels: pd.DataFrame, split: pd.DataFrame, *, model: str,
          calibrator: str, cv_folds: int, search_budget: int, seed: int,
          uncertainty_replicates: int = 0, progress=None,
          kinds: dict[str, str] | None = None, strategy: str = "holdout", folds: int = 5,
          repeats: int = 1, resamples: int = 0, sites: pd.Series | None = None,
          by_site: bool = False, workers: int = 1) -> TrainingOutcome:
    """Develop the deployed model on the development patients (every labelled patient with a
    resampling strategy), then validate the same procedure internally: `strategy`
    cross_validation (`folds` x `repeats`) or bootstrap (`resamples`), and by leaving one
    site out when `by_site` and the patients come from at least three sites. `kinds` are the
    registry's feature kinds (numeric, binary, categorical; models/layout.py)."""
    # One BLAS thread. The matrices are small (thousands of rows, a few hundred design
    # columns): a multi-threaded OpenBLAS spends more time handing work between threads than
    # computing, and on a busy 2-core machine the logistic fits ran 10-40 times slower than on
    # one thread (docs/training.md, "Training cost"). LightGBM already runs on one thread.
    procedure = Procedure(model, calibrator, cv_folds, search_budget, seed,
                          tuple(sorted((kinds or {}).items())))
    dev, y = development_data(features, labels, split)
    plan = validation_plan(dev, y, procedure, strategy=strategy, folds=folds, repeats=repeats,
                           resamples=resamples,
                           sites=sites.reindex(dev[KEY]).to_numpy()
                           if sites is not None and by_site else None)
    # The deployed model's development and the validation's run side by side.
    final, fits = resampling.run((dev, y, procedure), plan.tasks, workers, progress)
    with threadpool_limits(limits=1, user_api="blas"):
        replicates = bootstrap_replicates(final.candidate, final.searches[final.candidate].best,
                                          final.layout, final.layout.frame(dev), y,
                                          n_replicates=uncertainty_replicates, seed=seed,
                                          calibrator=calibrator, progress=progress)
    return TrainingOutcome(final.candidate, final.models, final.searches, final.layout,
                           int(len(y)), float(y.mean()),
                           domain=fit_domain(final.layout, final.layout.frame(dev)),
                           replicates=replicates,
                           sample_size=sample_size_adequacy(final.models,
                                                            final.searches[final.candidate],
                                                            final.candidate, y),
                           comparator=final.comparator,
                           calibrated_log_loss=final.calibrated_log_loss,
                           validation=plan.assemble(fits, dev[KEY].to_numpy(), y,
                                                    final.comparator))


def validation_steps(strategy: str, folds: int, repeats: int, resamples: int,
                     n_sites: int) -> int:
    """Progress steps of internal validation: one per development."""
    steps = {"cross_validation": folds * repeats, "bootstrap": resamples}.get(strategy, 0)
    return steps + (n_sites if n_sites >= resampling.MIN_SITES else 0)


@dataclass
class ValidationPlan:
    """The developments that validate the procedure, and how to read their results."""
    strategy: str
    folds: int
    repeats: int
    resamples: int
    tasks: list
    n_resampling: int                       # the first tasks resample; the rest leave a site out
    held_out: list = field(default_factory=list)
    repeat_of: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    site_values: np.ndarray | None = None
    n_sites: int = 0

    def assemble(self, fits: list, ids: np.ndarray, y: np.ndarray,
                 comparator: str) -> Validated:
        resampled, site_fits = fits[:self.n_resampling], fits[self.n_resampling:]
        summary: dict = {"strategy": self.strategy}
        validated = Validated(self.strategy, summary)
        if self.strategy == "cross_validation":
            cv = resampling.cross_validate(resampled, self.held_out, self.repeat_of,
                                           folds=self.folds, repeats=self.repeats)
            validated.out_of_sample = cv.out_of_fold(ids, y, comparator)
            summary |= {"folds": self.folds, "repeats": self.repeats,
                        "developments": len(resampled),
                        "auroc_per_repeat": [round(v, 4) for v in
                                             cv.per_repeat_auroc(y, comparator)],
                        "selection": resampling.selection_summary(
                            resampled, [y[rows] for rows in self.held_out],
                            [fit.roles("held_out", comparator)["candidate_calibrated"]
                             for fit in resampled])}
        elif self.strategy == "bootstrap":
            boot = resampling.Bootstrapped(resampled, self.samples)
            if len(boot.used) < max(2, self.resamples // 2):
                raise CannotTrain(
                    f"the development procedure could run in only {len(boot.used)} of "
                    f"{self.resamples} bootstrap resamples; the optimism cannot be estimated. "
                    f"First failure: {next(f.failed for f in resampled if f.failed)}")
            validated.out_of_sample = boot.out_of_bag(ids, y, comparator)
            validated.bootstrap = bootstrap_frame(boot, comparator)
            outside = [np.setdiff1d(np.arange(len(y)), s) for s in self.samples]
            summary |= {"resamples": self.resamples, "developments": len(resampled),
                        "resamples_used": len(boot.used),
                        "resamples_failed": {f.label: f.failed for f in resampled if f.failed},
                        "selection": resampling.selection_summary(
                            resampled, [y[rows] for rows in outside],
                            [None if fit.failed else
                             fit.roles("original", comparator)["candidate_calibrated"][rows]
                             for fit, rows in zip(resampled, outside)])}
        if site_fits:
            validated.by_site, validated.sites_failed = resampling.by_site(
                site_fits, ids, y, self.site_values, comparator)
            summary["by_site"] = {"sites": len(site_fits),
                                  "sites_failed": dict(validated.sites_failed),
                                  "chosen": {fit.label: fit.chosen for fit in site_fits}}
        elif self.site_values is not None:
            summary["by_site"] = {"sites": self.n_sites, "skipped": (
                f"{self.n_sites} site(s) among the development patients; leaving one site out "
                f"needs at least {resampling.MIN_SITES}")}
        return validated


def validation_plan(dev: pd.DataFrame, y: np.ndarray, procedure: Procedure, *, strategy: str,
                    folds: int, repeats: int, resamples: int,
                    sites: np.ndarray | None) -> ValidationPlan:
    """The developments of the resampling `strategy` and, with three or more sites, one per
    left-out site (patients without a recorded site are never left out, always developed on)."""
    plan = ValidationPlan(strategy, folds, repeats, resamples, [], 0)
    if strategy == "cross_validation":
        plan.tasks, plan.held_out, plan.repeat_of = resampling.cross_validation_tasks(
            dev, y, procedure, folds=folds, repeats=repeats)
    elif strategy == "bootstrap":
        plan.tasks, plan.samples = resampling.bootstrap_tasks(dev, y, procedure,
                                                              resamples=resamples)
    plan.n_resampling = len(plan.tasks)
    if sites is not None:
        values = pd.Series(sites, dtype="string")
        plan.site_values = values.fillna("").to_numpy(dtype=object)
        named = sorted(set(values.dropna()))
        plan.n_sites = len(named)
        if plan.n_sites >= resampling.MIN_SITES:
            plan.tasks = plan.tasks + resampling.site_tasks(dev, y, plan.site_values,
                                                            procedure, named)
    return plan


def bootstrap_frame(boot: resampling.Bootstrapped, comparator: str) -> pd.DataFrame:
    """Long table of every used resample's predictions: on its own drawn rows ("sample", in
    draw order) and on every original patient ("original"); rows index the development
    patients."""
    frames = []
    for i in boot.used:
        fit, sample = boot.fits[i], boot.samples[i]
        for which, rows in (("sample", sample), ("original", np.arange(len(
                next(iter(fit.predicted["original"].values()))[0])))):
            frames.append(pd.DataFrame({"resample": i, "set": which, "row": rows,
                                        **fit.roles(which, comparator)}))
    return pd.concat(frames, ignore_index=True)


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
