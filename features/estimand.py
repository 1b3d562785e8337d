"""Which patients the model speaks about: what happens to a patient with no endpoint rating.

A patient who starts the course but has no endpoint rating (stopped the sessions early, missed
the visit) has no observed outcome. Two estimands (`target.missing_endpoint`):

* `exclude` — leave such patients out. The model then estimates the chance of the outcome
  *among patients who complete the course and are rated*. When patients who are not improving
  stop more often (they do: lack of benefit is a common reason to stop), this is optimistic for
  the patient a clinician is deciding about, who has not yet completed anything.
* `non_response` — count them as not reaching the outcome (non-responder imputation, the usual
  conservative rule of responder analyses in trials). The model then estimates the chance of
  *completing the course and reaching the outcome*; it is pessimistic for patients who stop
  for reasons unrelated to benefit.

Patients without a baseline rating stay unlabelled under both: without a baseline nobody can
say what a response would have been. The choice and its counts are stated in the features and
training reports, the model card and every clinician report; docs/training.md argues the
default and docs/benchmarks.md measures both against the simulator's truth.
"""
from __future__ import annotations

import pandas as pd

from features.labels import NO_ENDPOINT

MISSING_ENDPOINT_RULES = ("exclude", "non_response")

# Plain words for each rule, as the reports print them ({outcome} is response or remission).
DESCRIPTIONS = {
    "exclude": "patients without an endpoint rating were left out: the chance is that of "
               "{outcome} among patients who complete the course and are rated",
    "non_response": "patients without an endpoint rating were counted as not reaching "
                    "{outcome}: the chance is that of completing the course with {outcome}",
}


def apply_missing_endpoint(labels: pd.DataFrame, rule: str) -> pd.DataFrame:
    """`labels` from `make_labels`, with the rule applied and an audit column
    `endpoint_imputed` (True where a missing endpoint was counted as not reaching the
    outcome)."""
    if rule not in MISSING_ENDPOINT_RULES:
        raise ValueError(f"target.missing_endpoint must be one of {MISSING_ENDPOINT_RULES}")
    out = labels.copy()
    no_endpoint = (out["no_label_reason"] == NO_ENDPOINT).fillna(False).astype(bool)
    imputed = no_endpoint if rule == "non_response" else pd.Series(False, index=out.index)
    out.loc[imputed, "label"] = 0
    out.loc[imputed, "no_label_reason"] = None
    out["endpoint_imputed"] = imputed.to_numpy()
    return out


def estimand_summary(labels: pd.DataFrame, rule: str, definition: str) -> dict:
    """What the reports state: the rule, in words, and how many patients it touched."""
    no_endpoint = int((labels["no_label_reason"] == NO_ENDPOINT).fillna(False).sum())
    imputed = int(labels["endpoint_imputed"].sum()) if "endpoint_imputed" in labels else 0
    return {
        "missing_endpoint": rule,
        "description": DESCRIPTIONS[rule].format(outcome=definition),
        "excluded_without_endpoint": no_endpoint,
        "counted_as_not_reaching_outcome": imputed,
    }
