"""Paired comparison only on the same test patients with the same labels and target."""
from __future__ import annotations

import pandas as pd

from models.review.evidence import Run
from models.review.pairing import pair

TARGET = {"target.instrument": "madrs", "target.definition": "response"}


def _run(ids, labels, probabilities, tags=TARGET, run_id="a" * 32) -> Run:
    frame = pd.DataFrame({"patient_id": ids, "label": labels, "probability": probabilities})
    return Run(reference=run_id, run_id=run_id, run_name="train", start_time=0, params={},
               metrics={}, tags=dict(tags), predictions=frame)


def test_same_patients_in_another_order_are_paired_and_aligned():
    a = _run(["pt-1", "pt-2", "pt-3", "pt-4"], [1, 0, 1, 0], [0.9, 0.2, 0.7, 0.4])
    b = _run(["pt-4", "pt-3", "pt-2", "pt-1"], [0, 1, 0, 1], [0.3, 0.6, 0.1, 0.8])
    pairing = pair(a, b)
    assert pairing.paired and pairing.n == 4
    # aligned by patient id (sorted): pt-1, pt-2, pt-3, pt-4
    assert list(pairing.y) == [1, 0, 1, 0]
    assert list(pairing.p_baseline) == [0.9, 0.2, 0.7, 0.4]
    assert list(pairing.p_other) == [0.8, 0.1, 0.6, 0.3]


def test_same_ids_with_different_labels_are_refused():
    a = _run(["pt-1", "pt-2", "pt-3", "pt-4"], [1, 0, 1, 0], [0.9, 0.2, 0.7, 0.4])
    b = _run(["pt-1", "pt-2", "pt-3", "pt-4"], [1, 1, 1, 0], [0.9, 0.2, 0.7, 0.4])
    pairing = pair(a, b)
    assert not pairing.paired
    assert "1 of their labels differ" in pairing.reason
    assert "pt-" not in pairing.reason


def test_different_patients_are_refused_with_counts_only():
    a = _run(["pt-1", "pt-2", "pt-3", "pt-4"], [1, 0, 1, 0], [0.9, 0.2, 0.7, 0.4])
    b = _run(["pt-1", "pt-2", "pt-5"], [1, 0, 1], [0.9, 0.2, 0.7])
    pairing = pair(a, b)
    assert not pairing.paired
    assert pairing.reason == ("different test patients: run A has 4, run B has 3, "
                              "2 in common")


def test_different_targets_are_refused_even_with_the_same_labels():
    a = _run(["pt-1", "pt-2"], [1, 0], [0.9, 0.2])
    b = _run(["pt-1", "pt-2"], [1, 0], [0.9, 0.2],
             tags=TARGET | {"target.definition": "remission"})
    pairing = pair(a, b)
    assert not pairing.paired and "different targets (target definition differ" in pairing.reason


def test_run_without_predictions_is_refused():
    a = _run(["pt-1", "pt-2"], [1, 0], [0.9, 0.2])
    b = _run(["pt-1", "pt-2"], [1, 0], [0.9, 0.2])
    b.predictions = None
    assert "run B has no test predictions" in pair(a, b).reason
