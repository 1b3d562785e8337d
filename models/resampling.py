"""Internal validation by resampling the whole development procedure.

The deployed model is developed on every labelled patient (models/procedure.py). Its performance
cannot be read off those same patients, so the procedure is run again, unchanged, on parts of
them and judged on the rest:

- cross-validation: repeated stratified k-fold; every patient is predicted by a procedure that
  never saw them (out-of-fold predictions, averaged over repeats);
- bootstrap: Harrell's optimism correction; each resample's procedure predicts its own
  resample and the original patients (models/optimism.py turns that into corrected figures),
  and the patients it left out (out-of-bag predictions, for per-patient outputs);
- by site: leave one site out in turn (internal-external cross-validation, Steyerberg & Harrell
  2016); each site is predicted by a procedure developed on the other sites.

Every development is independent and deterministic (its seed is the run's seed), so they run in
parallel processes (joblib, scikit-learn's own engine) and give the same numbers on any number
of workers. Pure computation: no files, no tracking.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import log_loss
from sklearn.model_selection import RepeatedStratifiedKFold
from threadpoolctl import threadpool_limits

from models.feasibility import CannotTrain
from models.layout import KEY
from models.procedure import Developed, Procedure, develop

ROLES = ("candidate_calibrated", "candidate_uncalibrated", "comparator_calibrated")


@dataclass
class Fit:
    """One development on some patients and its predictions for others."""
    label: str                                  # "repeat 1, fold 2", "resample 7", "site_03"
    chosen: str | None = None                   # the classifier the procedure chose
    inner_log_loss: float | None = None         # its calibrated cross-validated log loss
    # prediction set -> classifier -> (calibrated, uncalibrated) probabilities
    predicted: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    failed: str | None = None                   # why the procedure could not run here

    def roles(self, which: str, comparator: str) -> dict[str, np.ndarray]:
        """The three evaluated roles for one prediction set: the chosen classifier calibrated
        and not, and the final comparator's classifier (calibrated)."""
        chosen = self.predicted[which][self.chosen]
        return {"candidate_calibrated": chosen[0], "candidate_uncalibrated": chosen[1],
                "comparator_calibrated": self.predicted[which][comparator][0]}


def _develop_and_predict(label: str, dev: pd.DataFrame, y: np.ndarray, rows: np.ndarray,
                         targets: dict[str, np.ndarray], procedure: Procedure) -> Fit:
    """Develop on `rows`; predict each named set of rows with every classifier."""
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            developed = develop(dev.iloc[rows].reset_index(drop=True), y[rows], procedure)
        except CannotTrain as error:
            return Fit(label, failed=str(error))
        return Fit(label, developed.candidate,
                   developed.calibrated_log_loss[developed.candidate],
                   {which: _predict_all(developed, dev.iloc[idx]) for which, idx in
                    targets.items()})


def _predict_all(developed: Developed, frame: pd.DataFrame
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: (model.predict_proba(frame), model.predict_uncalibrated(frame))
            for name, model in developed.models.items()}


def develop_final(dev: pd.DataFrame, y: np.ndarray, procedure: Procedure) -> Developed:
    """The deployed model's development, run beside the validation's."""
    with threadpool_limits(limits=1, user_api="blas"):
        return develop(dev, y, procedure)


def run(final: tuple | None, tasks: list, workers: int, progress=None
        ) -> tuple[Developed | None, list[Fit]]:
    """The final development (`final`: arguments of `develop_final`) and every validation
    development (`tasks`), on `workers` processes, collected in order: the results do not
    depend on the number of workers. The final one goes first, as it takes longest."""
    jobs = ([delayed(develop_final)(*final)] if final is not None else []) + \
        [delayed(_develop_and_predict)(*task) for task in tasks]
    results = []
    for result in Parallel(n_jobs=min(workers, len(jobs)) or 1, return_as="generator")(jobs):
        results.append(result)
        if progress is not None:
            progress()
    if final is None:
        return None, results
    return results[0], results[1:]


# -- cross-validation ------------------------------------------------------------------------

@dataclass
class CrossValidated:
    folds: int
    repeats: int
    fits: list[Fit]
    held_out: list[np.ndarray]       # rows predicted by each fit
    repeat_of: list[int]

    def out_of_fold(self, ids: np.ndarray, y: np.ndarray, comparator: str) -> pd.DataFrame:
        """Per patient: each role's out-of-fold prediction, averaged over repeats (each repeat
        predicts every patient once, by a procedure that did not see them)."""
        sums = {role: np.zeros(len(y)) for role in ROLES}
        for fit, rows in zip(self.fits, self.held_out):
            for role, p in fit.roles("held_out", comparator).items():
                sums[role][rows] += p
        first_fold = np.empty(len(y), dtype=int)
        for number, (rows, repeat) in enumerate(zip(self.held_out, self.repeat_of)):
            if repeat == 0:
                first_fold[rows] = number + 1
        return pd.DataFrame({KEY: ids, "label": y, "fold": first_fold,
                             **{role: total / self.repeats for role, total in sums.items()}})

    def per_repeat_auroc(self, y: np.ndarray, comparator: str) -> list[float]:
        from models.scores import auroc
        values = []
        for repeat in range(self.repeats):
            p = np.empty(len(y))
            for fit, rows, r in zip(self.fits, self.held_out, self.repeat_of):
                if r == repeat:
                    p[rows] = fit.roles("held_out", comparator)["candidate_calibrated"]
            values.append(float(auroc(y, p)))
        return values


def cross_validation_tasks(dev: pd.DataFrame, y: np.ndarray, procedure: Procedure, *,
                           folds: int, repeats: int) -> tuple[list, list[np.ndarray], list[int]]:
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats,
                                       random_state=procedure.seed)
    tasks, held_out, repeat_of = [], [], []
    for number, (train, test) in enumerate(splitter.split(dev, y)):
        repeat, fold = divmod(number, folds)
        tasks.append((f"repeat {repeat + 1}, fold {fold + 1}", dev, y, train,
                      {"held_out": test}, procedure))
        held_out.append(test)
        repeat_of.append(repeat)
    return tasks, held_out, repeat_of


def cross_validate(fits: list[Fit], held_out: list[np.ndarray], repeat_of: list[int], *,
                   folds: int, repeats: int) -> CrossValidated:
    failed = [fit for fit in fits if fit.failed]
    if failed:
        # A fold without predictions would leave its patients out of every figure, and the
        # rest would no longer estimate the procedure's performance.
        raise CannotTrain(f"the development procedure could not run in {failed[0].label} of "
                          f"the internal cross-validation, so its performance cannot be "
                          f"estimated: {failed[0].failed}")
    return CrossValidated(folds, repeats, fits, held_out, repeat_of)


# -- bootstrap -----------------------------------------------------------------------------

@dataclass
class Bootstrapped:
    fits: list[Fit]
    samples: list[np.ndarray]        # drawn rows of each resample

    @property
    def used(self) -> list[int]:
        return [i for i, fit in enumerate(self.fits) if not fit.failed]

    def out_of_bag(self, ids: np.ndarray, y: np.ndarray, comparator: str) -> pd.DataFrame:
        """Per patient: the mean prediction of the resamples that did not draw them."""
        sums = {role: np.zeros(len(y)) for role in ROLES}
        counts = np.zeros(len(y))
        for i in self.used:
            fit, sample = self.fits[i], self.samples[i]
            outside = np.setdiff1d(np.arange(len(y)), sample)
            for role, p in fit.roles("original", comparator).items():
                sums[role][outside] += p[outside]
            counts[outside] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            means = {role: total / counts for role, total in sums.items()}
        return pd.DataFrame({KEY: ids, "label": y, "resamples_out_of_bag": counts.astype(int),
                             **means})


def bootstrap_tasks(dev: pd.DataFrame, y: np.ndarray, procedure: Procedure, *,
                    resamples: int) -> tuple[list, list[np.ndarray]]:
    rng = np.random.default_rng([procedure.seed, 16])
    tasks, samples = [], []
    everyone = np.arange(len(y))
    for i in range(resamples):
        sample = _draw(rng, y)
        tasks.append((f"resample {i + 1}", dev, y, sample,
                      {"sample": sample, "original": everyone}, procedure))
        samples.append(sample)
    return tasks, samples


def _draw(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """A resample of patients holding both outcomes (a tiny cohort may draw one only)."""
    for _ in range(1000):
        sample = rng.integers(0, len(y), len(y))
        if len(np.unique(y[sample])) == 2:
            return sample
    raise CannotTrain("no bootstrap resample holds both outcomes: too few of one outcome")


# -- leave one site out --------------------------------------------------------------------

MIN_SITES = 3


def site_tasks(dev: pd.DataFrame, y: np.ndarray, sites: np.ndarray, procedure: Procedure,
               named: list[str]) -> list:
    """One development per named site, on every other patient."""
    tasks = []
    for site in named:
        inside = np.flatnonzero(sites != site)
        outside = np.flatnonzero(sites == site)
        tasks.append((str(site), dev, y, inside, {"held_out": outside}, procedure))
    return tasks


def by_site(fits: list[Fit], ids: np.ndarray, y: np.ndarray, sites: np.ndarray,
            comparator: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Each patient's prediction by the procedure developed without their site, and the sites
    whose other sites could not support a development (with why)."""
    frames, failed = [], {}
    for fit in fits:
        rows = np.flatnonzero(sites == fit.label)
        if fit.failed:
            failed[fit.label] = fit.failed
            continue
        frames.append(pd.DataFrame({KEY: ids[rows], "site": fit.label, "label": y[rows],
                                    "chosen": fit.chosen,
                                    **fit.roles("held_out", comparator)}))
    columns = [KEY, "site", "label", "chosen", *ROLES]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return frame, failed


# -- what the choice of classifier cost ----------------------------------------------------

def selection_summary(fits: list[Fit], held_out_y: list[np.ndarray],
                      held_out_p: list[np.ndarray]) -> dict:
    """How often each classifier was chosen across resamples, and the optimism of choosing:
    the chosen classifier's inner (calibrated, cross-validated) log loss against its log loss
    on the patients the resample held out."""
    used = [(fit, yy, pp) for fit, yy, pp in zip(fits, held_out_y, held_out_p) if not fit.failed]
    if not used:
        return {"chosen": {}, "inner_log_loss": None, "outer_log_loss": None, "optimism": None}
    inner = float(np.mean([fit.inner_log_loss for fit, _, _ in used]))
    outer = float(np.mean([log_loss(yy, np.clip(pp, 1e-15, 1 - 1e-15), labels=[0, 1])
                           for _, yy, pp in used]))
    return {"chosen": dict(Counter(fit.chosen for fit, _, _ in used)),
            "inner_log_loss": round(inner, 5), "outer_log_loss": round(outer, 5),
            "optimism": round(outer - inner, 5)}
