"""Label edge cases."""
from __future__ import annotations

import pandas as pd
import pytest

from features.labels import NO_BASELINE, NO_ENDPOINT, NO_RATINGS, ZERO_BASELINE, make_labels
from tests.features.conftest import typed


def _labels(registries, ratings, definition="response", patients=None, instrument="madrs"):
    ids = patients or sorted({r["patient_id"] for r in ratings})
    tables = typed(registries, patients=[{"patient_id": p} for p in ids], assessments=ratings)
    out = make_labels(tables["patients"]["patient_id"], tables["assessments"],
                      registries.instruments[instrument], definition, (-14, 0), (10, 28), 0.5)
    return out.set_index("patient_id")


def r(pid, day, score, instrument="madrs"):
    return {"patient_id": pid, "day": day, "instrument": instrument, "score": score}


def test_endpoint_exactly_at_half_is_response(registries):
    out = _labels(registries, [r("a", 0, 30), r("a", 28, 15), r("b", 0, 30), r("b", 28, 16)])
    assert out.loc["a", "label"] == 1
    assert out.loc["b", "label"] == 0


def test_last_score_in_each_window_counts(registries):
    out = _labels(registries, [r("a", -10, 40), r("a", -1, 30), r("a", 14, 10), r("a", 27, 20),
                               r("a", 35, 2)])
    row = out.loc["a"]
    assert (row["baseline_score"], row["baseline_day"]) == (30, -1)
    assert (row["endpoint_score"], row["endpoint_day"]) == (20, 27)
    assert row["label"] == 0


def test_scores_only_outside_windows_give_no_label(registries):
    out = _labels(registries, [r("a", -30, 40), r("a", 35, 5), r("b", 0, 30), r("c", 20, 10)],
                  patients=["a", "b", "c", "d"])
    assert out["label"].isna().all()
    assert out.loc["a", "no_label_reason"] == NO_RATINGS
    assert out.loc["b", "no_label_reason"] == NO_ENDPOINT
    assert out.loc["c", "no_label_reason"] == NO_BASELINE
    assert out.loc["d", "no_label_reason"] == NO_RATINGS


def test_baseline_zero_has_no_response_label(registries):
    out = _labels(registries, [r("a", 0, 0), r("a", 28, 0)])
    assert pd.isna(out.loc["a", "label"])
    assert out.loc["a", "no_label_reason"] == ZERO_BASELINE


def test_remission_uses_the_instrument_threshold(registries):
    out = _labels(registries, [r("a", 0, 30), r("a", 28, 10), r("b", 0, 30), r("b", 28, 11)],
                  definition="remission")
    assert out.loc["a", "label"] == 1 and out.loc["b", "label"] == 0


def test_remission_needs_a_threshold(registries):
    with pytest.raises(ValueError, match="remission threshold"):
        _labels(registries, [r("a", 0, 12, "gad7"), r("a", 28, 3, "gad7")],
                definition="remission", instrument="gad7")


def test_other_instrument_target(registries):
    out = _labels(registries, [r("a", 0, 20, "phq9"), r("a", 28, 4, "phq9")],
                  definition="remission", instrument="phq9")
    assert out.loc["a", "label"] == 1


# Day 0 before or after the first dose (issue 13, item 3): a rating taken after the first
# infusion shows ketamine's rapid effect and is never the label's baseline.

def timed(pid, day, score, timing, instrument="madrs"):
    return {**r(pid, day, score, instrument), "timing": timing}


def test_a_post_dose_day0_rating_is_never_the_baseline(registries):
    out = _labels(registries, [
        timed("a", 0, 30, "pre_dose"), timed("a", 0, 16, "post_dose"), r("a", 28, 14),
        timed("b", 0, 16, "post_dose"), timed("b", 0, 30, None), r("b", 28, 14),  # unmarked
        r("c", -7, 36), timed("c", 0, 16, "post_dose"), r("c", 28, 20),  # screening instead
        timed("d", 0, 16, "post_dose"), r("d", 28, 14),  # nothing before the dose
    ])
    assert (out.loc["a", "baseline_score"], out.loc["a", "label"]) == (30, 1)
    assert (out.loc["b", "baseline_score"], out.loc["b", "label"]) == (30, 1)
    assert (out.loc["c", "baseline_score"], out.loc["c", "baseline_day"]) == (36, -7)
    assert out.loc["c", "label"] == 0
    assert pd.isna(out.loc["d", "baseline_score"]) and pd.isna(out.loc["d", "label"])
    assert out.loc["d", "no_label_reason"] == NO_BASELINE


def test_the_endpoint_may_be_a_post_dose_rating_the_last_one_of_its_day(registries):
    rows = [r("a", 0, 30), timed("a", 21, 12, "post_dose"), timed("a", 21, 18, "pre_dose"),
            r("b", 0, 30), timed("b", 14, 12, "post_dose"), r("b", 20, 17)]
    for ordered in (rows, rows[::-1]):  # row order never decides
        out = _labels(registries, ordered)
        assert (out.loc["a", "endpoint_score"], out.loc["a", "endpoint_day"]) == (12, 21)
        assert out.loc["a", "label"] == 1
        assert (out.loc["b", "endpoint_score"], out.loc["b", "endpoint_day"]) == (17, 20)


def test_labels_without_a_timing_column_are_unchanged(registries):
    # Tables from before the column existed (it is optional): every rating counts as before.
    out = _labels(registries, [r("a", -3, 40), r("a", 0, 30), r("a", 28, 15)])
    assert (out.loc["a", "baseline_score"], out.loc["a", "baseline_day"]) == (30, 0)
    assert out.loc["a", "label"] == 1
