"""Discrimination, accuracy and calibration metrics against scikit-learn and hand calculations."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit
from sklearn import metrics as sk

from models.metrics import (HEADLINE_KEYS, auroc, average_precision, brier, calibration_bins,
                            calibration_intercept_slope, discrimination, ece, headline_metrics,
                            ici, log_loss, scaled_brier, smoothed_calibration)


def _cohort(n: int, seed: int, ties: bool = False):
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, n)
    y = (rng.random(n) < p).astype(int)
    return y, (np.round(p, 2).clip(0.01, 0.99) if ties else p)


def _logistic_cohort(n: int, seed: int):
    """True log-odds z and outcomes drawn from expit(z)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-0.3, 1.5, n)
    return z, (rng.random(n) < expit(z)).astype(int)


@pytest.mark.parametrize("ties", [False, True])
def test_scores_match_scikit_learn(ties):
    y, p = _cohort(700, seed=1, ties=ties)
    assert auroc(y, p) == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    assert average_precision(y, p) == pytest.approx(sk.average_precision_score(y, p), abs=1e-12)
    assert brier(y, p) == pytest.approx(sk.brier_score_loss(y, p), abs=1e-12)
    assert log_loss(y, p) == pytest.approx(sk.log_loss(y, p), abs=1e-12)
    assert discrimination(y, p) == pytest.approx(
        {"auroc": sk.roc_auc_score(y, p), "auprc": sk.average_precision_score(y, p)})


def test_batched_scores_equal_row_by_row():
    y, p = _cohort(200, seed=2, ties=True)
    rows = np.random.default_rng(3).integers(0, 200, size=(5, 200))
    for metric in (auroc, average_precision, brier, log_loss, scaled_brier):
        batched = metric(y[rows], p[rows])
        assert batched.shape == (5,)
        np.testing.assert_allclose(batched, [metric(y[r], p[r]) for r in rows], atol=1e-12)


def test_log_loss_clips_confident_errors():
    assert np.isfinite(log_loss([1, 0], [0.0, 1.0]))


def test_undefined_discrimination_is_nan():
    assert np.isnan(auroc([1, 1, 1], [0.2, 0.5, 0.9]))
    assert np.isnan(average_precision([0, 0], [0.2, 0.5]))


def test_scaled_brier_is_zero_for_prevalence_and_one_for_perfect():
    y = np.array([1, 0, 0, 1, 0])
    assert scaled_brier(y, np.full(5, 0.4)) == pytest.approx(0.0, abs=1e-12)
    assert scaled_brier(y, y.astype(float)) == pytest.approx(1.0)
    # Every squared error is 0.4² = 0.16; null Brier 0.4 × 0.6 = 0.24; 1 − 0.16 / 0.24 = 1/3.
    assert scaled_brier(y, [0.6, 0.4, 0.4, 0.6, 0.4]) == pytest.approx(1 / 3)


def test_rejects_non_binary_outcome_and_mismatched_lengths():
    with pytest.raises(ValueError):
        brier([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError):
        brier([0, 1, 1], [0.1, 0.2])


def test_calibration_slope_and_intercept_by_hand_on_a_saturated_design():
    # Two groups, p = 0.2 and 0.8, observed 3/10 and 7/10: the two-parameter logistic model is
    # saturated, so slope = (logit .7 − logit .3) / (logit .8 − logit .2) = ln(7/3) / ln 4 and,
    # by symmetry, the intercept is 0.
    p = np.repeat([0.2, 0.8], 10)
    y = np.array([1] * 3 + [0] * 7 + [1] * 7 + [0] * 3)
    fit = calibration_intercept_slope(y, p)
    assert fit["calibration_slope"] == pytest.approx(np.log(7 / 3) / np.log(4), abs=1e-8)
    assert fit["calibration_intercept"] == pytest.approx(0.0, abs=1e-8)


def test_calibration_in_the_large_by_hand():
    # Everyone predicted 0.5, a quarter respond: intercept = logit(0.25) − logit(0.5) = −ln 3.
    y = np.array([1, 0, 0, 0] * 5)
    fit = calibration_intercept_slope(y, np.full(20, 0.5))
    assert fit["calibration_intercept"] == pytest.approx(-np.log(3), abs=1e-8)


@pytest.mark.parametrize("slope, shift, expected_slope, expected_intercept", [
    (1.0, 0.0, 1.0, 0.0),    # true probabilities: ideal values
    # Predictions twice as extreme on the logit scale: slope 0.5. (Calibration-in-the-large
    # is then not 0 either, since mean risk changes too; not checked.)
    (2.0, 0.0, 0.5, None),
    (1.0, 1.0, 1.0, -1.0),   # predictions too high by one log-odds unit: intercept −1
])
def test_calibration_on_simulated_cohorts(slope, shift, expected_slope, expected_intercept):
    z, y = _logistic_cohort(20_000, seed=11)
    fit = calibration_intercept_slope(y, expit(slope * z + shift))
    assert fit["calibration_slope"] == pytest.approx(expected_slope, abs=0.05)
    if expected_intercept is not None:
        assert fit["calibration_intercept"] == pytest.approx(expected_intercept, abs=0.06)


def test_calibration_is_nan_with_one_class():
    fit = calibration_intercept_slope([1, 1, 1], [0.2, 0.5, 0.7])
    assert np.isnan(fit["calibration_slope"]) and np.isnan(fit["calibration_intercept"])


def test_ici_by_hand_for_constant_miscalibration():
    # Six prediction levels, ten patients each, with exactly 10 × (p − 0.1) responders: the
    # group rates lie on the line p − 0.1, so the local-linear smoother recovers it exactly.
    p = np.repeat([0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 10)
    y = np.concatenate([[1] * k + [0] * (10 - k) for k in range(1, 7)])
    result = ici(y, p)
    for value in result.as_dict().values():
        assert value == pytest.approx(0.1, abs=1e-9)
    np.testing.assert_allclose(result.curve["observed"], result.curve["predicted"] - 0.1,
                               atol=1e-9)


def test_ici_with_no_spread_in_predictions_is_the_gap_to_the_observed_rate():
    y = np.array([1, 0, 0, 0, 1] * 4)  # 40 % respond, everyone predicted 50 %
    assert ici(y, np.full(20, 0.5)).ici == pytest.approx(0.1)


def test_ici_on_simulated_cohorts():
    z, y = _logistic_cohort(5_000, seed=5)
    assert ici(y, expit(z)).ici < 0.02
    shifted = ici(y, np.clip(expit(z) + 0.1, 0.01, 0.99))
    assert 0.07 < shifted.ici < 0.13
    assert shifted.e50 <= shifted.e90 <= shifted.emax


def test_ici_is_the_patient_weighted_mean_gap():
    y, p = _cohort(400, seed=8)
    gap = np.abs(smoothed_calibration(y, p) - p)
    result = ici(y, p)
    assert result.ici == pytest.approx(gap.mean())
    assert result.e90 == pytest.approx(np.quantile(gap, 0.9))
    assert list(result.curve.columns) == ["predicted", "observed"]
    assert result.curve["predicted"].is_monotonic_increasing


def test_ece_by_hand():
    # Five bins of width 0.2. Bin [0, 0.2): p 0.1 and 0.12 (mean 0.11), outcomes 0 and 1
    # (rate 0.5), gap 0.39. Bin [0.8, 1]: p 0.8 and 0.9 (mean 0.85), both respond, gap 0.15.
    y, p = [0, 1, 1, 1], [0.1, 0.12, 0.8, 0.9]
    assert ece(y, p, n_bins=5) == pytest.approx(0.5 * 0.39 + 0.5 * 0.15)
    bins = calibration_bins(y, p, n_bins=5)
    assert bins["bin"].tolist() == [0, 4] and bins["n"].tolist() == [2, 2]


def test_ece_bin_edges_are_closed_on_the_left():
    assert calibration_bins([0, 1], [0.2, 0.6], n_bins=5)["bin"].tolist() == [1, 3]


def test_headline_metrics_are_flat_plain_and_json_ready():
    y, p = _cohort(300, seed=4)
    headline = headline_metrics(y, p, seed=1, n_resamples=200)
    assert tuple(headline) == HEADLINE_KEYS
    assert isinstance(headline["n_test"], int) and headline["n_test"] == 300
    assert all(type(v) is float for k, v in headline.items() if k not in {
        "n_test", "auroc_ci", "auprc_ci"})
    lower, upper = headline["auroc_ci"]
    assert lower <= headline["auroc"] <= upper
    assert headline["auroc"] == round(sk.roc_auc_score(y, p), 4)
    assert headline["prevalence"] == round(float(np.mean(y)), 4)
    assert json.loads(json.dumps(headline)) == headline
    assert headline == headline_metrics(y, p, seed=1, n_resamples=200)
