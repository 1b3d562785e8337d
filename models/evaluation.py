"""Evaluate the calibrated candidate, the uncalibrated candidate and the comparator on the same
test patients. Pure computation on arrays and frames; the evaluate stage does the I/O."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.artifact import ResponseModel
from models.decision import threshold_metrics
from models.layout import KEY
from models.metrics import headline_metrics
from models.plot_data import calibration_points, decision_points, roc_points
from models.subgroups import age_band, subgroup_metrics


@dataclass
class TestSet:
    ids: np.ndarray
    y: np.ndarray
    features: pd.DataFrame      # feature rows of the test patients, in `ids` order
    groups: dict[str, pd.Series]  # subgroup variables aligned with `ids`
    skipped_groups: dict[str, str] = field(default_factory=dict)  # variable -> why not analysed


def test_set(features: pd.DataFrame, labels: pd.DataFrame, split: pd.DataFrame,
             sites: pd.Series | None) -> TestSet:
    ids = split.loc[split["set"] == "test", KEY].to_numpy()
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


ROLES = ("candidate_calibrated", "candidate_uncalibrated", "comparator_calibrated")


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
             n_resamples: int, thresholds: list[float], min_n: int,
             min_events: int) -> dict:
    """Everything the reports need: headline per role, thresholds, subgroups, curves."""
    predicted = predictions(candidate, comparator, test)
    p_main = predicted["candidate_calibrated"]
    return {
        "names": role_names(candidate, comparator),
        "headline": {role: headline_metrics(test.y, p, seed=seed, n_resamples=n_resamples)
                     for role, p in predicted.items()},
        "thresholds": threshold_metrics(test.y, p_main, thresholds),
        "subgroups": subgroup_metrics(None, test.y, p_main, test.groups, min_n=min_n,
                                      min_events=min_events),
        "subgroups_skipped": dict(test.skipped_groups),
        "curves": {role: {"roc": roc_points(test.y, p),
                          "calibration": calibration_points(test.y, p),
                          "decision": decision_points(test.y, p)}
                   for role, p in predicted.items()},
        "predicted": predicted,
        "predictions": pd.DataFrame({KEY: test.ids, "label": test.y, **predicted}),
    }
