"""Riley et al.'s minimum sample size (binary outcome): published examples and edge cases.

Published figures, in the order the tests use them:

* pmsampsize (R, Ensor, Martin & Riley), help-page example ``pmsampsize(type = "b", rsquared =
  0.288, parameters = 24, prevalence = 0.174)`` — the Chagas diagnostic model of Riley et al., Stat
  Med 2019;38:1276 — and the package's own tests/testthat/test_bin.R (CRAN, version 1.1.1,
  2021-11-21), which pin every criterion's n and EPP for four inputs. Versions ≤ 1.1.0 rounded
  max(R²cs) to 2 and S to 3 decimals and printed 668 instead of 662 for the help-page example; 1.1.1
  ("fixes issues with rounding … in Max_Rsq and subsequently sample size calculations", NEWS.md)
  is what is reproduced here.
* Riley et al., BMJ 2020;368:m441, binary example: "For an outcome proportion of 0.05, the
  max(R2cs) value is 0.33 … the anticipated R2cs value is 0.15×0.33=0.05 … pmsampsize, type(b)
  rsquared(0.05) parameters(30) prevalence(0.05). This indicates that at least 5249 women are
  required … driven by criterion B3" (B3 = the shrinkage criterion, criterion 1 here), and "with 20
  rather than 30 candidate predictors … at least 3500 women and 175 events (still 8.75 EPP)".
* Riley et al., Stat Med 2019;38:1276, abstract: "a new diagnostic model for Chagas disease
  requires an EPP of at least 4.8".
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.special import expit

from models.sample_size import (CRITERIA, assess, cox_snell_r2, max_cox_snell_r2,
                                minimum_sample_size)


def _ns(result) -> list[int | None]:
    """Per-criterion n then the final n: the 'Samp_size' column pmsampsize prints."""
    return [c.n for c in result.criteria] + [result.n]


def _epps(result) -> list[float]:
    """The 'EPP' column, rounded to 2 decimals as pmsampsize prints it."""
    return [round(c.epp, 2) for c in result.criteria] + [round(result.epp, 2)]


# ── published examples ───────────────────────────────────────────────────────


def test_the_r_help_example_prints_623_662_221_and_116_events():
    # pmsampsize(type = "b", rsquared = 0.288, parameters = 24, prevalence = 0.174), R ≥ 1.1.1:
    # Criteria 1/2/3/Final 623/662/221/662, shrinkage 0.9/0.905, Max_Rsq 0.603, Nag_Rsq 0.477,
    # EPP 4.52/4.8/1.6/4.8, "… = 662, with 116 events … and an EPP = 4.8".
    r = minimum_sample_size(24, 0.174, 0.288)
    assert _ns(r) == [623, 662, 221, 662]
    assert _epps(r) == [4.52, 4.8, 1.6, 4.8]
    assert r.binding == "optimism"
    assert r.events_required == 116 and r.events == pytest.approx(662 * 0.174)
    assert round(r.max_r2_cox_snell, 3) == 0.603
    assert round(r.r2_nagelkerke, 3) == 0.477
    assert r.criterion("shrinkage").shrinkage == 0.9
    assert round(r.criterion("optimism").shrinkage, 3) == 0.905
    # Stat Med 2019 abstract: the Chagas model "requires an EPP of at least 4.8".
    assert round(r.epp, 1) == 4.8


@pytest.mark.parametrize("r2, parameters, prevalence, ns, epps", [
    # tests/testthat/test_bin.R of pmsampsize 1.1.1, "Test 4.2" to "Test 4.4"
    (0.55, 24, 0.174, [255, 532, 221, 532], [1.85, 3.86, 1.6, 3.86]),
    (0.288, 36, 0.174, [934, 992, 221, 992], [4.51, 4.79, 1.07, 4.79]),
    (0.288, 24, 0.25, [623, 590, 289, 623], [6.49, 6.15, 3.01, 6.49]),
])
def test_the_r_package_test_suite(r2, parameters, prevalence, ns, epps):
    r = minimum_sample_size(parameters, prevalence, r2)
    assert _ns(r) == ns
    assert _epps(r) == epps


def test_the_bmj_2020_binary_example():
    # "max(R2cs) value is 0.33" for an outcome proportion of 0.05.
    assert round(max_cox_snell_r2(0.05), 2) == 0.33
    # "0.15×0.33=0.05": a Nagelkerke R² of 0.15, rounded as the paper does. Unrounded it is
    # 0.0492, which asks for more patients than the paper's 5249 (see the next test).
    assert round(0.15 * max_cox_snell_r2(0.05), 2) == 0.05
    r = minimum_sample_size(30, 0.05, 0.05)
    assert r.n == 5249 and r.binding == "shrinkage"  # "driven by criterion B3"
    assert r.events_required == 263 and round(r.epp, 2) == 8.75
    fewer = minimum_sample_size(20, 0.05, 0.05)
    assert fewer.n == 3500 and fewer.binding == "shrinkage"
    assert fewer.events_required == 175 and round(fewer.epp, 2) == 8.75


def test_rounding_the_anticipated_r2_matters():
    """The BMJ's R²cs of 0.05 is a rounded 0.0492; the exact value needs ~2 % more patients.

    Nothing is rounded here: the caller decides which R² to anticipate.
    """
    exact = 0.15 * max_cox_snell_r2(0.05)
    assert minimum_sample_size(30, 0.05, exact).n > minimum_sample_size(30, 0.05, 0.05).n


def test_criterion_3_is_the_precision_of_the_overall_proportion():
    # n = (1.96 / 0.05)² φ(1 − φ): 385 at φ = 0.5, the familiar survey figure.
    assert minimum_sample_size(10, 0.5, 0.2).criterion("overall_risk").n == 385
    assert minimum_sample_size(10, 0.5, 0.2, margin_of_error=0.1).criterion("overall_risk").n == 97


def test_more_candidate_parameters_or_a_weaker_model_need_more_patients():
    by_parameters = [minimum_sample_size(p, 0.3, 0.1).n for p in (5, 10, 20, 40)]
    assert by_parameters == sorted(by_parameters) and len(set(by_parameters)) == 4
    by_r2 = [minimum_sample_size(20, 0.3, r2).n for r2 in (0.3, 0.2, 0.1, 0.05)]
    assert by_r2 == sorted(by_r2) and len(set(by_r2)) == 4


# ── R² scales ────────────────────────────────────────────────────────────────


def test_max_cox_snell_r2_is_symmetric_and_largest_at_half():
    assert max_cox_snell_r2(0.5) == pytest.approx(0.75)  # 1 − exp(2 ln 0.5) = 1 − 1/4
    assert max_cox_snell_r2(0.2) == pytest.approx(max_cox_snell_r2(0.8))
    assert max_cox_snell_r2(0.2) < max_cox_snell_r2(0.5)


def test_max_cox_snell_r2_needs_a_prevalence_strictly_between_0_and_1():
    for bad in (0.0, 1.0, float("nan"), None):
        assert max_cox_snell_r2(bad) is None


def _logistic_sample(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (rng.random(n) < expit(-1.0 + x @ np.array([0.8, -0.5, 0.3]))).astype(int)
    return sm.add_constant(x), y


def test_cox_snell_r2_of_a_logistic_fit_matches_statsmodels():
    exog, y = _logistic_sample(600, seed=11)
    fit = sm.Logit(y, exog).fit(disp=0)
    n = len(y)
    expected = 1 - math.exp(2 * (fit.llnull - fit.llf) / n)  # = 1 − exp(−LR / n)
    assert cox_snell_r2(y, fit.predict(exog)) == pytest.approx(expected, rel=1e-10)
    assert expected == pytest.approx(1 - math.exp(-fit.llr / n), rel=1e-10)
    # A fitted model cannot exceed the maximum for its observed proportion.
    assert cox_snell_r2(y, fit.predict(exog)) < max_cox_snell_r2(y.mean())


def test_cox_snell_r2_of_the_prevalence_is_zero_and_of_bad_predictions_negative():
    exog, y = _logistic_sample(400, seed=3)
    assert cox_snell_r2(y, np.full(len(y), y.mean())) == pytest.approx(0.0, abs=1e-12)
    # Predictions pointing the wrong way fit worse than the overall proportion: below 0, which
    # minimum_sample_size then refuses with a reason instead of a number.
    fit = sm.Logit(y, exog).fit(disp=0)
    worse = cox_snell_r2(y, 1 - fit.predict(exog))
    assert worse < 0
    assert minimum_sample_size(10, y.mean(), worse).n is None


def test_cox_snell_r2_is_nan_without_both_outcome_classes():
    assert math.isnan(cox_snell_r2([1, 1, 1], [0.2, 0.5, 0.9]))
    assert math.isnan(cox_snell_r2([], []))
    # Probabilities of exactly 0 or 1 are clipped, not turned into an infinite log-likelihood.
    assert math.isfinite(cox_snell_r2([0, 1, 1, 0], [0.0, 1.0, 1.0, 1.0]))


# ── edge cases: never a traceback, always a reason ───────────────────────────


@pytest.mark.parametrize("r2", [0.0, -0.05, float("nan"), float("inf"), None])
def test_a_model_no_better_than_the_prevalence_has_no_overfitting_criteria(r2):
    r = minimum_sample_size(24, 0.174, r2)
    assert r.criterion("shrinkage").n is None and r.criterion("optimism").n is None
    assert r.criterion("shrinkage").reason and r.criterion("optimism").reason
    assert r.criterion("overall_risk").n == 221  # still computable
    # The final n is unknown, not the maximum of what is left (that would understate it).
    assert r.n is None and r.binding is None and r.events is None and r.epp is None
    assert "shrinkage and optimism" in r.reason


@pytest.mark.parametrize("prevalence", [0.0, 1.0, -0.1, 1.5, float("nan"), None])
def test_a_prevalence_of_0_or_1_leaves_nothing_to_compute(prevalence):
    r = minimum_sample_size(24, prevalence, 0.1)
    assert all(c.n is None and "strictly between 0 and 1" in c.reason for c in r.criteria)
    assert r.n is None and r.max_r2_cox_snell is None and r.r2_nagelkerke is None


def test_no_candidate_parameters_needs_only_the_overall_proportion():
    r = minimum_sample_size(0, 0.174, 0.1)
    assert _ns(r) == [0, 0, 221, 221] and r.binding == "overall_risk"
    assert r.epp is None  # events per parameter is undefined without parameters
    assert minimum_sample_size(0, 0.174, 0.0).n == 221  # no R² needed either


@pytest.mark.parametrize("parameters", [-1, 2.5, float("nan"), "24"])
def test_parameters_must_be_a_whole_number(parameters):
    r = minimum_sample_size(parameters, 0.3, 0.1)
    assert r.n is None and "whole number" in r.reason
    assert r.criterion("overall_risk").n == 323


def test_numpy_scalars_are_accepted():
    r = minimum_sample_size(np.int64(24), np.float64(0.174), np.float32(0.288))
    assert r.parameters == 24 and type(r.parameters) is int
    assert r.criterion("shrinkage").n == 623


def test_an_r2_above_its_maximum_or_the_shrinkage_target_is_explained():
    over = minimum_sample_size(24, 0.174, 0.7)  # max R²cs is 0.603 at this prevalence
    assert over.n is None and "exceeds its maximum" in over.reason
    low_target = minimum_sample_size(24, 0.174, 0.288, shrinkage=0.2)
    assert low_target.criterion("shrinkage").n is None
    assert "not below the shrinkage target" in low_target.reason
    assert low_target.criterion("optimism").n == 662


@pytest.mark.parametrize("option", [{"shrinkage": 1.0}, {"shrinkage": 0.0}, {"r2_difference": 0.0},
                                    {"margin_of_error": 0.0}, {"margin_of_error": float("nan")}])
def test_bad_options_are_explained_not_raised(option):
    r = minimum_sample_size(24, 0.174, 0.288, **option)
    assert r.n is None and next(iter(option)) in r.reason


def test_an_r2_too_small_for_floating_point_is_explained():
    r = minimum_sample_size(24, 0.3, 5e-324)
    assert r.criterion("shrinkage").n is None and "not a finite number" in r.reason
    # Small but representable: huge, yet an integer.
    assert minimum_sample_size(24, 0.3, 1e-12).n > 10**13


def test_to_dict_is_json_ready():
    d = minimum_sample_size(24, 0.174, 0.288).to_dict()
    assert set(d["criteria"]) == set(CRITERIA)
    assert json.loads(json.dumps(d, allow_nan=False))["n"] == 662
    not_computable = minimum_sample_size(24, 0.174, 0.0).to_dict()
    assert not_computable["n"] is None and not_computable["reason"]
    assert json.dumps(not_computable, allow_nan=False)


# ── an actual cohort against the minimum ─────────────────────────────────────


def test_assess_uses_the_cohorts_own_proportion():
    # 700 patients, 122 responders (φ = 0.174 to 3 decimals); 24 parameters, R²cs 0.288.
    a = assess(700, 122, 24, 0.288)
    assert a.requirement.prevalence == pytest.approx(122 / 700)
    assert a.adequate is True and a.meets_n and a.meets_events
    assert a.shortfall_n == 0 and a.shortfall_events == 0
    assert a.epp_achieved == pytest.approx(122 / 24)


def test_assess_reports_the_shortfall():
    a = assess(500, 87, 24, 0.288, prevalence=0.174)  # the protocol's anticipated proportion
    assert a.adequate is False and a.meets_n is False and a.meets_events is False
    assert a.shortfall_n == 662 - 500 and a.shortfall_events == 116 - 87
    json.dumps(a.to_dict(), allow_nan=False)


def test_assess_needs_enough_events_as_well_as_patients():
    # Enough patients at the anticipated proportion, but fewer responders than it implies.
    a = assess(700, 100, 24, 0.288, prevalence=0.174)
    assert a.meets_n is True and a.meets_events is False and a.adequate is False
    assert a.shortfall_events == 16


@pytest.mark.parametrize("n, events, r2", [(0, 0, 0.288), (300, 0, 0.288), (300, 60, -0.01)])
def test_assess_cannot_judge_what_cannot_be_computed(n, events, r2):
    a = assess(n, events, 24, r2)
    assert a.adequate is None and a.meets_n is None and a.shortfall_n is None
    assert a.requirement.reason
    json.dumps(a.to_dict())
