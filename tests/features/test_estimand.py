"""target.missing_endpoint: which patients a model speaks about, and the reports say so."""
from __future__ import annotations

import pandas as pd
import pytest

from features.estimand import apply_missing_endpoint, estimand_summary
from features.labels import NO_BASELINE, NO_ENDPOINT


@pytest.fixture
def labels() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["completer-yes", "completer-no", "stopped-early", "no-baseline"],
        "label": pd.array([1, 0, pd.NA, pd.NA], dtype="Int64"),
        "no_label_reason": [None, None, NO_ENDPOINT, NO_BASELINE],
    })


def test_exclude_leaves_patients_without_an_endpoint_out(labels):
    out = apply_missing_endpoint(labels, "exclude")
    assert out["label"].tolist()[:2] == [1, 0] and out["label"].isna().tolist()[2:] == [1, 1]
    assert not out["endpoint_imputed"].any()
    summary = estimand_summary(out, "exclude", "response")
    assert summary["excluded_without_endpoint"] == 1
    assert summary["counted_as_not_reaching_outcome"] == 0
    assert "among patients who complete the course" in summary["description"]


def test_non_response_counts_a_missing_endpoint_as_not_reaching_the_outcome(labels):
    out = apply_missing_endpoint(labels, "non_response")
    assert out.set_index("patient_id").loc["stopped-early", "label"] == 0
    assert out["endpoint_imputed"].tolist() == [False, False, True, False]
    # Without a baseline nobody can say what a response would have been.
    assert pd.isna(out.set_index("patient_id").loc["no-baseline", "label"])
    summary = estimand_summary(out, "non_response", "remission")
    assert summary == {"missing_endpoint": "non_response",
                       "description": "patients without an endpoint rating were counted as not "
                                      "reaching remission: the chance is that of completing the "
                                      "course with remission",
                       "excluded_without_endpoint": 0, "counted_as_not_reaching_outcome": 1}


def test_an_unknown_rule_is_refused(labels):
    with pytest.raises(ValueError, match="missing_endpoint"):
        apply_missing_endpoint(labels, "last_observation_carried_forward")
