"""Paired differences (bootstrap and DeLong) and the sentences that state them."""
from __future__ import annotations

import numpy as np
import pytest

from models.comparison.phrasing import number, p_value, sentence, signed, verdict
from models.review.statistics import METRICS, Difference, paired_differences


def _two_models(n=400, seed=2):
    rng = np.random.default_rng(seed)
    risk = rng.normal(0, 1, n)
    y = rng.binomial(1, 1 / (1 + np.exp(-1.4 * risk)))
    p_a = 1 / (1 + np.exp(-(risk + rng.normal(0, 1.6, n))))
    p_b = 1 / (1 + np.exp(-(risk + rng.normal(0, 0.6, n))))
    return y, p_a, p_b


def test_paired_bootstrap_is_deterministic_for_a_seed():
    y, p_a, p_b = _two_models()
    first = paired_differences(y, p_a, p_b, n_resamples=100, seed=7)
    again = paired_differences(y, p_a, p_b, n_resamples=100, seed=7)
    other = paired_differences(y, p_a, p_b, n_resamples=100, seed=8)
    assert first == again
    assert [d.metric.key for d in first] == ["auroc", "brier", "ici"]
    assert [(d.lower, d.upper) for d in first] != [(d.lower, d.upper) for d in other]
    # Point estimates do not depend on the seed; differences are later − baseline.
    assert [d.difference for d in first] == [d.difference for d in other]
    auroc = first[0]
    assert auroc.difference == pytest.approx(auroc.other - auroc.baseline)
    assert auroc.p_value is not None and first[1].p_value is None


def test_better_model_is_a_clear_improvement_in_both_directions_of_better():
    y, p_a, p_b = _two_models(n=700, seed=4)
    auroc, brier, _ = paired_differences(y, p_a, p_b, n_resamples=100, seed=1)
    assert auroc.difference > 0 and auroc.clear and verdict(auroc) == "a clear improvement"
    assert brier.difference < 0 and brier.clear and verdict(brier) == "a clear improvement"
    reverse, _, _ = paired_differences(y, p_b, p_a, n_resamples=100, seed=1)
    assert verdict(reverse) == "clearly worse"


def _difference(key, diff, lower, upper, p=None):
    metric = next(m for m in METRICS if m.key == key)
    return Difference(metric, 0.70, 0.70 + diff, diff, lower, upper, p)


def test_sentences_read_plainly():
    text = sentence(_difference("auroc", 0.03, -0.01, 0.07, 0.21), "B", "A")
    assert text == ("Run B's AUROC is 0.030 higher than run A's (95 % CI −0.010 to 0.070; "
                    "DeLong p = 0.21): not a clear improvement.")
    text = sentence(_difference("brier", -0.012, -0.02, -0.004), "C", "A")
    assert text == ("Run C's Brier score is 0.012 lower than run A's (lower is better; 95 % CI "
                    "−0.020 to −0.004): a clear improvement.")
    text = sentence(_difference("ici", 0.004, -0.003, 0.011), "B", "A")
    assert "lower is better" in text and text.endswith("not clearly worse.")
    same = sentence(_difference("auroc", 0.0001, -0.01, 0.01, 0.98), "B", "A")
    assert "the same as run A's to 3 decimals" in same and "no clear difference" in same
    # DeLong and the bootstrap disagreeing is said, not hidden.
    borderline = sentence(_difference("auroc", 0.02, -0.001, 0.04, 0.03), "B", "A")
    assert "disagree" in borderline


def test_number_formats():
    assert number(-0.0301) == "−0.030" and number(-0.0001) == "0.000"
    assert signed(0.03) == "+0.030" and signed(-0.03) == "−0.030" and signed(0.0) == "0.000"
    assert number(None) == "—" and number(float("nan")) == "—"
    assert p_value(0.0004) == "p < 0.001" and p_value(0.047) == "p = 0.047"
    assert p_value(0.213) == "p = 0.21" and p_value(float("nan")) == "p not computable"
