"""Intervals that say what they are (issue 13, item 6).

* Calibration-in-the-large: the interval the evaluate stage gives resamples patients as they
  were drawn (unstratified). A bootstrap stratified by outcome fixes the observed response rate,
  which is most of what the intercept measures, so its interval was far too narrow.
* The per-patient range is named for what it measures (estimation uncertainty), and its
  coverage as measured by benchmarks/uncertainty.py travels with every explanation.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.special import expit

from models.bootstrap import bootstrap_ci
from models.metrics import (calibration_in_the_large, calibration_intercept_slope,
                            calibration_slope, headline_metrics, metric_intervals)
from tests.conftest import REPO


def _calibrated_test_set(rng: np.random.Generator, n: int):
    """Predictions equal to the true probabilities (true calibration intercept 0), spread like
    the demo's test predictions (log-odds mean -0.17, SD 0.75)."""
    p = expit(rng.normal(-0.17, 0.75, n))
    return (rng.random(n) < p).astype(int), p


def test_batched_calibration_fits_equal_the_glm_fits():
    rng = np.random.default_rng(3)
    rows_y, rows_p = [], []
    for shift in (-0.6, 0.0, 0.4):
        y, p = _calibrated_test_set(rng, 300)
        rows_y.append(y)
        rows_p.append(expit(np.log(p / (1 - p)) * 1.3 + shift))
    y, p = np.vstack(rows_y), np.vstack(rows_p)
    intercepts, slopes = calibration_in_the_large(y, p), calibration_slope(y, p)
    for k in range(3):
        fit = calibration_intercept_slope(y[k], p[k])
        assert intercepts[k] == pytest.approx(fit["calibration_intercept"], abs=1e-7)
        assert slopes[k] == pytest.approx(fit["calibration_slope"], abs=1e-7)
        assert float(calibration_in_the_large(y[k], p[k])) == pytest.approx(intercepts[k])
    # No finite fit: one outcome only, or no spread in the predictions (slope).
    assert np.isnan(calibration_in_the_large(np.ones(20), np.full(20, 0.3)))
    assert np.isnan(calibration_slope(y[0], np.full(300, 0.4)))


def test_calibration_in_the_large_interval_reaches_its_nominal_coverage():
    """200 test sets of 454 patients from a perfectly calibrated model (the demo's size).

    The interval the evaluate stage reports must contain the true intercept, 0, about 95 % of
    the time. The outcome-stratified bootstrap used before covered it about half the time (56 %
    in 100 such sets with the card's old code; 40 % in the issue's own simulation).
    """
    rng = np.random.default_rng(20261202)
    n_sets, n, resamples = 200, 454, 200
    ours, stratified, widths, estimates = [], [], [], []
    for i in range(n_sets):
        y, p = _calibrated_test_set(rng, n)
        interval = metric_intervals(y, p, ["calibration_intercept"], n_resamples=resamples,
                                    seed=i)["calibration_intercept"]
        old = bootstrap_ci(calibration_in_the_large, y, p, n_resamples=resamples, seed=i,
                           stratified=True)
        ours.append(interval.lower <= 0 <= interval.upper)
        stratified.append(old.lower <= 0 <= old.upper)
        widths.append(interval.upper - interval.lower)
        estimates.append(interval.estimate)
    true_sd = float(np.std(estimates))
    assert 0.90 <= np.mean(ours) <= 0.985, np.mean(ours)
    assert np.mean(stratified) < 0.7, np.mean(stratified)
    # The width matches the estimate's real spread (a 95 % normal interval is 3.92 SDs).
    assert np.median(widths) == pytest.approx(3.92 * true_sd, rel=0.15)


def test_the_calibrated_candidates_headline_has_an_interval_for_every_measure():
    rng = np.random.default_rng(5)
    y, p = _calibrated_test_set(rng, 400)
    headline = headline_metrics(y, p, seed=1, n_resamples=200, all_intervals=True)
    for key in ("auroc", "auprc", "brier", "scaled_brier", "log_loss", "calibration_intercept",
                "calibration_slope", "ici"):
        lower, upper = headline[f"{key}_ci"]
        assert lower < upper, key
    # Unstratified for the intercept: about 3.92 × 2 / sqrt(n) wide, not a tenth of that.
    lower, upper = headline["calibration_intercept_ci"]
    assert upper - lower > 0.3
    # AUROC's and AUPRC's intervals are the stratified ones they always were.
    assert headline["auroc_ci"] == headline_metrics(y, p, seed=1, n_resamples=200)["auroc_ci"]
    assert "brier_ci" not in headline_metrics(y, p, seed=1, n_resamples=200)


def _scoring_stub(n_development: int):
    model = SimpleNamespace(classifier="lightgbm", info={"n_development": n_development},
                            calibrator=SimpleNamespace(method="platt", exactly_additive=True))
    return SimpleNamespace(model=model, replicates=[object()] * 20, target={}, dictionary=[],
                           sample_size=None)


def test_the_per_patient_range_carries_its_measured_coverage(registries):
    from models.scoring import explanation_meta
    from models.uncertainty import MEASURED_COVERAGE

    meta = explanation_meta(_scoring_stub(1360), {"run_id": "r"})
    interval = meta["interval"]
    assert interval["level"] == 0.95  # kept: the range is built as ± 1.96 SDs
    assert "estimation" in interval["name"]
    measured = interval["measured_coverage"]
    assert measured["true_probability"] < 0.9  # what the benchmark found, not 95 %
    assert measured["n_development"] and measured["date"] and measured["repeats"] >= 3
    statement = interval["coverage_statement"]
    assert f"{round(100 * measured['true_probability'])} %" in statement
    assert measured["date"] in statement and "not 95 %" in statement
    # The size nearest the model's own development cohort is the one quoted.
    sizes = [m["n_development_labelled"] for m in MEASURED_COVERAGE["by_size"]]
    assert measured["n_development_labelled"] == min(sizes, key=lambda s: abs(s - 1360))


def test_measured_coverage_is_the_benchmarks_own_figure():
    """The figures quoted to clinicians are those in docs/benchmarks/uncertainty.json: re-running
    the benchmark with different results without updating models/uncertainty.py fails here."""
    from models.uncertainty import MEASURED_COVERAGE

    recorded = json.loads((REPO / "docs" / "benchmarks" / "uncertainty.json")
                          .read_text(encoding="utf-8"))
    assert recorded["measured_coverage"] == MEASURED_COVERAGE


def test_a_model_without_refits_says_it_has_no_range():
    from models.uncertainty import interval_description

    described = interval_description(0, 1360)
    assert described["measured_coverage"] is None
    assert "without an estimation range" in described["coverage_statement"]
    assert "20 refits; this model has 10" in interval_description(10, 1360)["coverage_statement"]
