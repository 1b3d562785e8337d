"""Can these labels support fitting and validating a model at all?

Refuses, with what was found and what is needed, cohorts on which the procedure cannot run:
no labelled patients, one outcome only, too few of either outcome for stratified
cross-validation and a held-out test set, or no characteristic that varies. This is the floor
below which nothing can be computed; whether a cohort is large enough for a *reliable* model is
a separate, reported judgement (models/sample_size.py, Riley et al.).
"""
from __future__ import annotations

import math

import pandas as pd

# Below this many responders or non-responders a held-out test set holds two or three of them:
# no discrimination or calibration figure would mean anything.
MIN_PER_OUTCOME = 10


class CannotTrain(ValueError):
    """The data cannot support a model; the message says what was found and what is needed."""


def needed_per_outcome(cv_folds: int, test_fraction: float) -> int:
    """Responders (and non-responders) needed so that every cross-validation fold of the
    development set holds at least one of each, and the test set holds some."""
    for_folds = math.ceil(cv_folds / (1 - test_fraction)) + 1
    return max(MIN_PER_OUTCOME, for_folds)


def _counts(labels: pd.Series) -> tuple[int, int, int]:
    labelled = labels.dropna().astype(int)
    return len(labelled), int(labelled.sum()), int((labelled == 0).sum())


def held_out_share(strategy: str, test_fraction: float, folds: int) -> tuple[float, str]:
    """The share of patients a development does not see, and how the message names it."""
    if strategy == "cross_validation":
        return 1 / folds, f"validate it by {folds}-fold cross-validation of the whole procedure"
    if strategy == "bootstrap":
        # A bootstrap resample leaves out about e^-1 of the patients.
        return 0.368, "validate it by bootstrap resampling of the whole procedure"
    return test_fraction, f"validate it on a held-out {100 * test_fraction:g} % of patients"


def check_labels(labels: pd.Series, cv_folds: int, test_fraction: float,
                 outcome: str = "responders", validation: str | None = None) -> None:
    """`labels`: one entry per patient, NA when unlabelled. `test_fraction` is the share of
    patients a development does not see; `validation` says how they are used."""
    n, events, non_events = _counts(labels)
    need = needed_per_outcome(cv_folds, test_fraction)
    if n == 0:
        raise CannotTrain(
            f"none of the {len(labels):,} patients has an outcome label: every patient lacks a "
            "baseline or an endpoint rating of the target scale in the target windows. Check "
            "target.instrument and the windows in configs/params.yaml against the days your "
            "assessments were rated (the features report lists why each patient is "
            "unlabelled).")
    if events < need or non_events < need:
        non = "non-" + outcome
        raise CannotTrain(
            f"{n:,} labelled patients, {events:,} {outcome} and {non_events:,} {non}: the "
            f"pipeline needs at least {need} {outcome} and {need} {non} to fit a model by "
            f"{cv_folds}-fold cross-validation and "
            f"{validation or f'validate it on a held-out {100 * test_fraction:g} % of patients'}"
            ". Add patients, or check the target definition in configs/params.yaml.")


def check_split(split: pd.DataFrame, labels: pd.DataFrame, cv_folds: int,
                outcome: str = "responders") -> None:
    """After the split (for example a whole site held out): both sets must hold both outcomes,
    the development set at least `cv_folds` of each."""
    merged = split.merge(labels[["patient_id", "label"]], on="patient_id")
    # A resampling strategy has no test set: every labelled patient is in development.
    roles = (("development", cv_folds), ("test", 1)) if (merged["set"] == "test").any() \
        else (("development", cv_folds),)
    for role, need in roles:
        y = merged.loc[merged["set"] == role, "label"].astype(int)
        events, non_events = int(y.sum()), int((y == 0).sum())
        if events < need or non_events < need:
            raise CannotTrain(
                f"the {role} set holds {len(y):,} patients, {events} {outcome} and "
                f"{non_events} non-{outcome}; it needs at least {need} of each. With "
                "split.holdout_site, choose a site (or a larger one) that has both outcomes.")


def check_features(layout_order: list[str], excluded: dict[str, str]) -> None:
    if not layout_order:
        raise CannotTrain(
            f"no characteristic varies among the development patients ({len(excluded)} "
            "registered features were all left out: never recorded, or one value for "
            "everyone; the features report lists why). A model needs at least one.")
