"""Can two runs be compared patient by patient? Only if they predicted the same outcome for the
same test patients with the same labels.

When they cannot, `Pairing.kind` says why in one word, so the comparison can fall back to
unpaired statistics (every kind but "targets": runs predicting different targets are not
compared at all). The reasons given never name a patient: they carry counts only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.comparison.runs import PREDICTIONS, Run

TARGET_PREFIX = "target."

# Why two runs do not pair (Pairing.kind).
PAIRED = "paired"
TARGETS = "targets"              # different target definitions: no comparison at all
WITHHELD = "withheld"            # predictions kept out of the store (log_patient_predictions)
NOT_EVALUATED = "not_evaluated"  # no predictions and no record of leaving them out
UNREADABLE = "unreadable"        # the evaluation says it logged them, but they cannot be read
PATIENTS = "patients"            # different test patients (or one listed twice)
LABELS = "labels"                # the same patients with different labels
ONE_OUTCOME = "one_outcome"      # every test patient has the same outcome


@dataclass(frozen=True)
class Pairing:
    """Whether `other` pairs with `baseline`; if so, y and both probability vectors aligned
    patient by patient; if not, why (a sentence without any patient id)."""

    paired: bool
    reason: str
    kind: str = PAIRED
    n: int = 0
    y: np.ndarray | None = None
    p_baseline: np.ndarray | None = None
    p_other: np.ndarray | None = None


def _targets(run: Run) -> dict[str, str]:
    return {k: v for k, v in run.tags.items() if k.startswith(TARGET_PREFIX)}


def _missing(run: Run, name: str) -> tuple[str, str]:
    """Why a run without test predictions has none, and the kind."""
    if run.predictions_logged is False:
        return (f"run {name}'s test predictions are not in the tracking store (its evaluation "
                f"ran with evaluate.log_patient_predictions: false)", WITHHELD)
    if run.predictions_logged:
        return (f"run {name}'s evaluation logged its test predictions, but {PREDICTIONS} cannot "
                f"be read from the tracking store", UNREADABLE)
    return f"run {name} has no test predictions logged ({PREDICTIONS}): it was not evaluated", \
        NOT_EVALUATED


def pair(baseline: Run, other: Run, baseline_name: str = "A",
         other_name: str = "B") -> Pairing:
    """Check the target definition, then that both runs' predictions are there, then patient
    ids, then labels; align by patient id."""
    targets_a, targets_b = _targets(baseline), _targets(other)
    if targets_a != targets_b:
        keys = sorted(k.removeprefix(TARGET_PREFIX) for k in set(targets_a) | set(targets_b)
                      if targets_a.get(k) != targets_b.get(k))
        return Pairing(False, f"the runs predict different targets (target {', '.join(keys)} "
                              f"differ), so their labels do not mean the same thing", TARGETS)
    missing = [_missing(run, name) for run, name in ((baseline, baseline_name),
                                                       (other, other_name))
               if run.predictions is None]
    if missing:  # both runs' reasons when both lack predictions
        return Pairing(False, "; ".join(reason for reason, _ in missing), missing[0][1])
    a, b = baseline.predictions, other.predictions
    for frame, name in ((a, baseline_name), (b, other_name)):
        if frame["patient_id"].duplicated().any():
            return Pairing(False, f"run {name}'s test predictions list a patient twice",
                           PATIENTS)
    ids_a, ids_b = set(a["patient_id"]), set(b["patient_id"])
    if ids_a != ids_b:
        shared = len(ids_a & ids_b)
        return Pairing(False, f"different test patients: run {baseline_name} has {len(ids_a)}, "
                              f"run {other_name} has {len(ids_b)}, {shared} in common", PATIENTS)
    merged = pd.merge(a, b, on="patient_id", suffixes=("_a", "_b")).sort_values("patient_id")
    disagree = int((merged["label_a"] != merged["label_b"]).sum())
    if disagree:
        return Pairing(False, f"the same {len(merged)} test patients, but {disagree} of their "
                              f"labels differ between the runs (the outcome data changed)",
                       LABELS)
    y = merged["label_a"].to_numpy(dtype=float)
    if y.min() == y.max():
        return Pairing(False, "the test patients are all responders or all non-responders",
                       ONE_OUTCOME)
    return Pairing(True, f"the same {len(merged)} test patients with the same labels",
                   n=len(merged), y=y, p_baseline=merged["probability_a"].to_numpy(float),
                   p_other=merged["probability_b"].to_numpy(float))
