"""Outcome labels: response or remission on the target instrument.

A patient without a baseline or an endpoint gets no label and a reason; they are excluded from
training and still scored later.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from features.severity import baseline_ratings, last_score_in_window
from pipeline.core.registries import Instrument

# How every output names each target definition: the outcome, the patients who reach it, and
# the verb forms the clinician report uses.
OUTCOME_WORDS = {
    "response": {"noun": "response", "holders": "responders", "past": "responded",
                 "infinitive": "respond"},
    "remission": {"noun": "remission", "holders": "remitters", "past": "reached remission",
                  "infinitive": "reach remission"},
}

NO_BASELINE = "no baseline rating in the baseline window"
NO_ENDPOINT = "no endpoint rating in the endpoint window"
NO_RATINGS = "no baseline and no endpoint rating"
ZERO_BASELINE = "baseline score is 0: a reduction cannot be computed"


def label_baseline_ratings(assessments: pd.DataFrame) -> pd.DataFrame:
    """The ratings a label's baseline may come from: none marked `post_dose`.

    A MADRS four hours after the first infusion already shows ketamine's rapid effect; as a
    baseline it would shrink the reduction. An unmarked day-0 rating is taken as pre-dose (the
    data contract). The endpoint is not restricted: it is the last rating in its window, and on
    a day with both a pre-dose and a post-dose rating the post-dose one is the later.
    """
    return baseline_ratings(assessments)


def make_labels(patient_ids: pd.Series, assessments: pd.DataFrame, instrument: Instrument,
                definition: str, baseline_window: tuple[int, int],
                endpoint_window: tuple[int, int], min_reduction: float) -> pd.DataFrame:
    """One row per patient: label (1, 0 or missing), baseline and endpoint scores and days,
    and `no_label_reason` where the label is missing."""
    base = last_score_in_window(label_baseline_ratings(assessments), instrument.key,
                                baseline_window)
    end = last_score_in_window(assessments, instrument.key, endpoint_window)
    out = pd.DataFrame({"patient_id": patient_ids.to_numpy()})
    idx = out["patient_id"]
    out["baseline_score"] = base["score"].reindex(idx).astype("Float64").to_numpy()
    out["baseline_day"] = base["day"].reindex(idx).astype("Int64").to_numpy()
    out["endpoint_score"] = end["score"].reindex(idx).astype("Float64").to_numpy()
    out["endpoint_day"] = end["day"].reindex(idx).astype("Int64").to_numpy()

    b, e = out["baseline_score"], out["endpoint_score"]
    if definition == "response":
        # Higher-is-better scales would need the reduction reversed; every registered
        # depression scale is higher-is-worse, and a mismatch is refused below.
        hit = e <= (1 - min_reduction) * b
    else:
        if instrument.remission_max is None:
            raise ValueError(f"{instrument.key} has no remission threshold in "
                             "configs/instruments.yaml; choose target.definition: response")
        hit = e <= instrument.remission_max
    if not instrument.higher_is_worse:
        raise ValueError(f"{instrument.key} is not higher-is-worse; it cannot be a target yet")

    reason = pd.Series(np.select(
        [b.isna() & e.isna(), b.isna(), e.isna()], [NO_RATINGS, NO_BASELINE, NO_ENDPOINT],
        default="",
    ), index=out.index)
    if definition == "response":
        reason = reason.mask((reason == "") & (b == 0).fillna(False).astype(bool), ZERO_BASELINE)
    labelled = reason == ""
    out["label"] = hit.astype("Int64").where(labelled, pd.NA)
    out["no_label_reason"] = reason.where(~labelled, None)
    return out[["patient_id", "label", "baseline_score", "baseline_day", "endpoint_score",
                "endpoint_day", "no_label_reason"]]
