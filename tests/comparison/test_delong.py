"""DeLong's test (fast algorithm): a hand calculation, scipy's Mann–Whitney U, the paired
bootstrap, and its false-positive rate when two models are equally good."""
from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, norm

from models.bootstrap import paired_bootstrap_difference
from models.review.delong import delong_test, placements
from models.scores import auroc

# 3 responders and 2 non-responders, scored by two models; model B ties a responder with a
# non-responder at 0.3.
Y = [1, 1, 1, 0, 0]
A = [0.9, 0.6, 0.4, 0.5, 0.2]
B = [0.8, 0.3, 0.7, 0.3, 0.1]


def test_placements_by_hand():
    # Model A: responder 0.4 is out-scored by non-responder 0.5 → V10 = (1, 1, 1/2);
    # non-responder 0.5 is out-scored by 2 of 3 responders, 0.2 by all → V01 = (2/3, 1).
    auc_a, v10_a, v01_a = placements(Y, A)
    assert auc_a == pytest.approx(5 / 6)
    np.testing.assert_allclose(v10_a, [1, 1, 0.5])
    np.testing.assert_allclose(v01_a, [2 / 3, 1])
    # Model B: the tie at 0.3 counts 1/2 → V10 = (1, 3/4, 1), V01 = (5/6, 1), AUROC 11/12.
    auc_b, v10_b, v01_b = placements(Y, B)
    assert auc_b == pytest.approx(11 / 12)
    np.testing.assert_allclose(v10_b, [1, 0.75, 1])
    np.testing.assert_allclose(v01_b, [5 / 6, 1])


def test_delong_by_hand():
    # Sample covariances (denominator m − 1 = 2 over responders, n − 1 = 1 over non-responders):
    #   S10: var A = 1/12, var B = 1/48, cov = −1/48;  S01: var A = 1/18, var B = 1/72, cov = 1/36
    # Var(B − A) = (1/12 + 1/48 + 2/48) / 3 + (1/18 + 1/72 − 2/36) / 2 = 1/18.
    s10 = (F(1, 12) + F(1, 48) - 2 * F(-1, 48)) / 3
    s01 = (F(1, 18) + F(1, 72) - 2 * F(1, 36)) / 2
    variance = s10 + s01
    assert variance == F(1, 18)
    z = (F(11, 12) - F(5, 6)) / np.sqrt(float(variance))  # 1/12 × √18 = 0.35355
    result = delong_test(Y, A, B)
    assert result.difference == pytest.approx(1 / 12)
    assert result.standard_error == pytest.approx(np.sqrt(1 / 18))
    assert result.z == pytest.approx(float(z))
    assert result.p_value == pytest.approx(2 * norm.sf(float(z)))
    assert result.p_value == pytest.approx(0.7237, abs=1e-4)
    half = 1.959964 * np.sqrt(1 / 18)
    assert (result.lower, result.upper) == pytest.approx((1 / 12 - half, 1 / 12 + half))
    # Swapping the models flips the sign, not the p-value.
    swapped = delong_test(Y, B, A)
    assert swapped.difference == pytest.approx(-1 / 12)
    assert swapped.p_value == pytest.approx(result.p_value)


def _correlated_models(n: int, seed: int, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    risk = rng.normal(0, 1, n)
    y = rng.binomial(1, 1 / (1 + np.exp(-1.5 * risk)))
    p_a = 1 / (1 + np.exp(-(risk + rng.normal(0, 1.0, n))))
    p_b = 1 / (1 + np.exp(-(risk + rng.normal(0, 1.0 - shift, n))))
    return y, p_a, p_b


def test_auroc_agrees_with_scipy_mann_whitney():
    y, p_a, p_b = _correlated_models(700, seed=3)
    result = delong_test(y, p_a, p_b)
    for auc, p in ((result.auroc_a, p_a), (result.auroc_b, p_b)):
        u = mannwhitneyu(p[y == 1], p[y == 0]).statistic
        assert auc == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
        assert auc == pytest.approx(float(auroc(y, p)), abs=1e-12)


def test_standard_error_and_interval_agree_with_paired_bootstrap():
    y, p_a, p_b = _correlated_models(800, seed=11, shift=0.3)
    result = delong_test(y, p_a, p_b)
    rng = np.random.default_rng(5)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    differences = []
    for _ in range(2000):  # stratified, as models.bootstrap does
        rows = np.concatenate([rng.choice(positives, len(positives)),
                               rng.choice(negatives, len(negatives))])
        differences.append(float(auroc(y[rows], p_b[rows]) - auroc(y[rows], p_a[rows])))
    assert result.standard_error == pytest.approx(np.std(differences, ddof=1), rel=0.1)
    boot = paired_bootstrap_difference(auroc, y, p_b, p_a, n_resamples=2000, seed=5)
    assert boot.difference == pytest.approx(result.difference, abs=1e-12)
    assert boot.lower == pytest.approx(result.lower, abs=0.01)
    assert boot.upper == pytest.approx(result.upper, abs=0.01)


def test_false_positive_rate_near_five_percent_when_models_are_equally_good():
    rejections = [delong_test(*_correlated_models(300, seed=seed)).p_value < 0.05
                  for seed in range(400)]
    assert 0.02 <= np.mean(rejections) <= 0.09


def test_identical_predictions_give_p_one_and_one_class_is_refused():
    y, p_a, _ = _correlated_models(100, seed=1)
    same = delong_test(y, p_a, p_a.copy())
    assert same.difference == 0 and same.standard_error == 0 and same.p_value == 1
    with pytest.raises(ValueError, match="responders and non-responders"):
        delong_test(np.ones(5), np.linspace(0.1, 0.9, 5), np.linspace(0.2, 0.8, 5))
