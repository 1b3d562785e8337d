"""Evaluate the calibrated candidate, the uncalibrated candidate and the comparator on the same
test patients. Pure computation on arrays and frames; the evaluate stage does the I/O."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.artifact import ResponseModel
from models.decision import clinical_utility, threshold_metrics_with_intervals
from models.layout import KEY
from models.metrics import headline_metrics
from models.plot_data import calibration_points, decision_points, roc_points
from models.subgroups import PoorSubgroupRule, age_band, subgroup_metrics
from models.uncertainty import interval_description


@dataclass
class TestSet:
    ids: np.ndarray
    y: np.ndarray
    features: pd.DataFrame      # feature rows of the test patients, in `ids` order
    groups: dict[str, pd.Series]  # subgroup variables aligned with `ids`
    skipped_groups: dict[str, str] = field(default_factory=dict)  # variable -> why not analysed


def test_set(features: pd.DataFrame, labels: pd.DataFrame, split: pd.DataFrame,
             sites: pd.Series | None) -> TestSet:
    """The held-out test patients of a holdout split."""
    return evaluation_set(features, labels, split.loc[split["set"] == "test", KEY].to_numpy(),
                          sites)


def evaluation_set(features: pd.DataFrame, labels: pd.DataFrame, ids: np.ndarray,
                   sites: pd.Series | None) -> TestSet:
    """The patients `ids` (in that order) with their labels and subgroup variables."""
    rows = features.set_index(KEY).loc[ids]
    y = labels.set_index(KEY).loc[ids, "label"].astype(int).to_numpy()
    groups = {
        "sex": rows["sex"].reset_index(drop=True) if "sex" in rows else None,
        "age_band": age_band(rows["age_years"]).reset_index(drop=True)
        if "age_years" in rows else None,
        "site": sites.reindex(ids).reset_index(drop=True) if sites is not None else None,
        "route": rows["route"].reset_index(drop=True) if "route" in rows else None,
        "diagnosis": rows["diagnosis"].reset_index(drop=True) if "diagnosis" in rows else None,
    }
    # A variable the cohort does not record (no site column, no sessions table) would form one
    # "missing" subgroup holding every patient: reported as skipped, with the reason.
    skipped = {name: "not recorded for any test patient" for name, values in groups.items()
               if values is None or values.isna().all()}
    return TestSet(ids, y, rows.reset_index(),
                   {k: v for k, v in groups.items() if k not in skipped}, skipped)


def predictions(candidate: ResponseModel, comparator: ResponseModel,
                test: TestSet) -> dict[str, np.ndarray]:
    """The three prediction columns compared side by side, keyed by role (stable file and
    metric names whichever classifier won)."""
    return {
        "candidate_calibrated": candidate.predict_proba(test.features),
        "candidate_uncalibrated": candidate.predict_uncalibrated(test.features),
        "comparator_calibrated": comparator.predict_proba(test.features),
    }


def role_names(candidate: ResponseModel, comparator: ResponseModel) -> dict[str, str]:
    """Names for people: "lightgbm (calibrated)" and so on."""
    return {
        "candidate_calibrated": f"{candidate.classifier} (calibrated, candidate)",
        "candidate_uncalibrated": f"{candidate.classifier} (uncalibrated)",
        "comparator_calibrated": f"{comparator.classifier} (calibrated, comparator)",
    }


def evaluate(candidate: ResponseModel, comparator: ResponseModel, test: TestSet, *, seed: int,
             n_resamples: int, thresholds: list[float], min_n: int, min_events: int,
             rule: PoorSubgroupRule | None = None, n_replicates: int = 0) -> dict:
    """Everything the reports need: headline per role, thresholds, net benefit, subgroups,
    curves, and what the per-patient range is (the candidate's ``n_replicates`` refits)."""
    return evaluate_predictions(predictions(candidate, comparator, test),
                                role_names(candidate, comparator), test.y, test.ids,
                                test.groups, test.skipped_groups, seed=seed,
                                n_resamples=n_resamples, thresholds=thresholds, min_n=min_n,
                                min_events=min_events, rule=rule, n_replicates=n_replicates,
                                n_development=candidate.info.get("n_development"))


def evaluate_predictions(predicted: dict[str, np.ndarray], names: dict[str, str], y: np.ndarray,
                         ids: np.ndarray, groups: dict[str, pd.Series],
                         skipped_groups: dict[str, str], *, seed: int, n_resamples: int,
                         thresholds: list[float], min_n: int, min_events: int,
                         rule: PoorSubgroupRule | None = None, n_replicates: int = 0,
                         n_development: int | None = None) -> dict:
    """``evaluate`` on predictions already made, keyed by role. Every interval the model card
    shows is computed here, once: the calibrated candidate's headline measures, sensitivity,
    specificity, PPV and NPV, net benefit against treating all at ``thresholds``, and each
    subgroup's AUROC, Brier and calibration (the card only renders them)."""
    p_main = predicted["candidate_calibrated"]
    return {
        "names": names,
        "n_resamples": n_resamples,
        "headline": {role: headline_metrics(y, p, seed=seed, n_resamples=n_resamples,
                                            all_intervals=role == "candidate_calibrated")
                     for role, p in predicted.items()},
        "thresholds": threshold_metrics_with_intervals(y, p_main, thresholds,
                                                       n_resamples=n_resamples, seed=seed),
        "net_benefit": clinical_utility(y, p_main, [t for t in thresholds if 0 < t < 1],
                                        n_resamples=n_resamples, seed=seed),
        "subgroups": subgroup_metrics(None, y, p_main, groups, min_n=min_n,
                                      min_events=min_events, n_resamples=n_resamples,
                                      seed=seed, rule=rule),
        "subgroups_skipped": dict(skipped_groups),
        "poor_subgroup_rule": None if rule is None else rule.as_dict() | {
            "description": rule.describe()},
        "patient_interval": interval_description(n_replicates, n_development),
        "curves": {role: {"roc": roc_points(y, p),
                          "calibration": calibration_points(y, p),
                          "decision": decision_points(y, p)}
                   for role, p in predicted.items()},
        "predicted": predicted,
        "predictions": pd.DataFrame({KEY: ids, "label": y, **predicted}),
    }
