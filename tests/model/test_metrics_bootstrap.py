"""Stratified bootstrap intervals: deterministic, stratified, sensible, and fast."""
from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from models.bootstrap import (BootstrapCI, bootstrap_ci, paired_bootstrap_difference,
                              resample_indices)
from models.scores import auroc, average_precision, brier


def _cohort(n: int, seed: int):
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, n)
    return (rng.random(n) < p).astype(int), p


def test_same_seed_same_interval_other_seed_other_interval():
    y, p = _cohort(300, seed=1)
    first = bootstrap_ci(auroc, y, p, n_resamples=300, seed=42)
    assert first == bootstrap_ci(auroc, y, p, n_resamples=300, seed=42)
    assert first != bootstrap_ci(auroc, y, p, n_resamples=300, seed=43)


def test_interval_contains_the_full_data_estimate_and_unpacks():
    y, p = _cohort(300, seed=2)
    for metric in (auroc, average_precision, brier):
        estimate, lower, upper = bootstrap_ci(metric, y, p, n_resamples=400, seed=0)
        assert lower < estimate < upper
        assert estimate == pytest.approx(float(metric(y, p)))


def test_interval_narrows_with_more_patients():
    small = bootstrap_ci(auroc, *_cohort(200, seed=3), n_resamples=400, seed=0)
    large = bootstrap_ci(auroc, *_cohort(3200, seed=3), n_resamples=400, seed=0)
    # Width scales like 1/sqrt(n): 16 × the patients should give about a quarter of the width.
    ratio = (large.upper - large.lower) / (small.upper - small.lower)
    assert 0.15 < ratio < 0.4


def test_stratified_resamples_keep_the_responder_count():
    y = np.array([1] * 7 + [0] * 13)
    chunks = list(resample_indices(y, 250, np.random.default_rng(0), stratified=True))
    rows = np.concatenate(chunks)
    assert rows.shape == (250, 20)
    assert (y[rows].sum(axis=1) == 7).all()
    assert len({tuple(r) for r in rows}) > 200  # genuinely different resamples


def test_unstratified_resamples_vary_the_responder_count():
    y = np.array([1] * 7 + [0] * 13)
    rows = np.concatenate(list(resample_indices(y, 200, np.random.default_rng(0), False)))
    assert len(np.unique(y[rows].sum(axis=1))) > 3


def test_vectorised_and_per_resample_paths_agree():
    y, p = _cohort(250, seed=4)
    fast = bootstrap_ci(auroc, y, p, n_resamples=200, seed=9)
    slow = bootstrap_ci(lambda a, b: roc_auc_score(a, b), y, p, n_resamples=200, seed=9)
    np.testing.assert_allclose(fast, slow, atol=1e-12)


def test_unstratified_bootstrap_drops_undefined_resamples_with_a_warning():
    y = np.array([1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.1, 0.2, 0.3, 0.4, 0.5])
    with pytest.warns(UserWarning, match="NaN"):
        result = bootstrap_ci(auroc, y, p, n_resamples=200, seed=0, stratified=False)
    assert result.lower == pytest.approx(1.0) and result.upper == pytest.approx(1.0)


def test_stratified_bootstrap_needs_both_classes():
    with pytest.raises(ValueError):
        bootstrap_ci(auroc, [1, 1, 1], [0.2, 0.3, 0.4], n_resamples=10)


def test_paired_difference_of_a_model_with_itself_is_zero():
    y, p = _cohort(300, seed=5)
    assert tuple(paired_bootstrap_difference(auroc, y, p, p, n_resamples=200)) == (0, 0, 0)


def test_paired_difference_detects_a_better_model():
    y, p = _cohort(600, seed=6)
    noisy = np.clip(p + np.random.default_rng(1).normal(0, 0.25, len(p)), 0.01, 0.99)
    difference, lower, upper = paired_bootstrap_difference(auroc, y, p, noisy, n_resamples=500)
    assert difference == pytest.approx(auroc(y, p) - auroc(y, noisy))
    assert 0 < lower < difference < upper


def test_one_thousand_resamples_on_one_thousand_patients_is_fast():
    y, p = _cohort(1000, seed=7)
    start = time.perf_counter()
    result = bootstrap_ci(auroc, y, p, n_resamples=1000, seed=0)
    assert time.perf_counter() - start < 2.0
    assert isinstance(result, BootstrapCI)
