"""Can two runs be compared patient by patient? Only if they predicted the same outcome (the same
`target.*` tags) for the same test patients with the same labels. One rule for `compare` and
`promote`.

When they cannot, `Pairing.kind` says why in one word, so the caller can fall back (compare:
unpaired statistics for every kind but "targets"; promote: "not applicable", or a failure as
configured). The reasons given never name a patient: they carry counts only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.review.evidence import PREDICTIONS, TARGET_PREFIX, Run

# Why two runs do not pair (Pairing.kind).
PAIRED = "paired"
TARGETS = "targets"              # different target definitions: labels mean different things
WITHHELD = "withheld"            # predictions kept out of the store (log_patient_predictions)
NOT_EVALUATED = "not_evaluated"  # no predictions and no record of leaving them out
UNREADABLE = "unreadable"        # the evaluation says it logged them, but they cannot be read
PATIENTS = "patients"            # different test patients (or one listed twice)
LABELS = "labels"                # the same patients with different labels
ONE_OUTCOME = "one_outcome"      # every test patient has the same outcome


@dataclass(frozen=True)
class Pairing:
    """Whether `other` pairs with `baseline`; if so, y and both probability vectors aligned
    patient by patient (sorted by patient id); if not, why (a sentence without any patient
    id)."""

    paired: bool
    reason: str
    kind: str = PAIRED
    n: int = 0
    y: np.ndarray | None = None
    p_baseline: np.ndarray | None = None
    p_other: np.ndarray | None = None


def different_targets(baseline: Run, other: Run) -> str | None:
    """Why the two runs' labels mean different things (the `target.*` keys that differ), or
    None when their target definitions are the same."""
    a, b = baseline.targets, other.targets
    if a == b:
        return None
    keys = sorted(k.removeprefix(TARGET_PREFIX) for k in set(a) | set(b) if a.get(k) != b.get(k))
    return (f"the runs predict different targets (target {', '.join(keys)} differ), so their "
            f"labels do not mean the same thing")


def missing_predictions(run: Run, who: str) -> tuple[str, str]:
    """Why a run without test predictions (`who`: "run B", "the champion") has none, and the
    kind: left out by policy, logged but unreadable, or never evaluated."""
    if run.predictions_logged is False:
        return (f"{who}'s test predictions are not in the tracking store (its evaluation ran "
                f"with evaluate.log_patient_predictions: false)", WITHHELD)
    if run.predictions_logged:
        return (f"{who}'s evaluation logged its test predictions, but {PREDICTIONS} cannot be "
                f"read from the tracking store", UNREADABLE)
    return f"{who} has no test predictions logged ({PREDICTIONS}): it was not evaluated", \
        NOT_EVALUATED


def pair(baseline: Run, other: Run, baseline_who: str = "run A",
         other_who: str = "run B") -> Pairing:
    """Check the target definition, then that both runs' predictions are there, then patient
    ids, then labels; align by patient id. `baseline_who`, `other_who` name the runs in the
    reason."""
    targets = different_targets(baseline, other)
    if targets:
        return Pairing(False, targets, TARGETS)
    missing = [missing_predictions(run, who) for run, who in ((baseline, baseline_who),
                                                               (other, other_who))
               if run.predictions is None]
    if missing:  # both runs' reasons when both lack predictions
        return Pairing(False, "; ".join(reason for reason, _ in missing), missing[0][1])
    a, b = baseline.predictions, other.predictions
    for frame, who in ((a, baseline_who), (b, other_who)):
        if frame["patient_id"].duplicated().any():
            return Pairing(False, f"{who}'s test predictions list a patient twice", PATIENTS)
    ids_a, ids_b = set(a["patient_id"]), set(b["patient_id"])
    if ids_a != ids_b:
        shared = len(ids_a & ids_b)
        return Pairing(False, f"different test patients: {baseline_who} has {len(ids_a)}, "
                              f"{other_who} has {len(ids_b)}, {shared} in common", PATIENTS)
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
