"""Plain-language phrasing: values, effects, rounding and the natural-frequency sentence."""
from __future__ import annotations

import math

import pytest

from models.report.phrasing import (Characteristic, contribution_phrase, describe_value,
                                    natural_frequency, percent, percent_bound,
                                    points_words, target_sentence)

BENZO = Characteristic("benzodiazepine_at_index", "taking a benzodiazepine", "0/1", "binary")
ECT = Characteristic("ect_history", "previous ECT", "0/1", "binary")
ALONE = Characteristic("lives_alone", "lives alone", "", "binary")
TRIALS = Characteristic("prior_failed_trials", "failed antidepressant trials", "trials")
BMI = Characteristic("bmi", "body-mass index", "kg/m²")
CRP = Characteristic("crp_mg_l", "C-reactive protein", "mg/L", sources="biomarkers")
MADRS = Characteristic("baseline_madrs", "baseline MADRS", "points (0-60)")
DOSE = Characteristic("dose", "first dose", "mg/kg or mg")
EMPLOYMENT = Characteristic("employment", "employment status", "", "categorical")
ROUTE = Characteristic("route", "route of ketamine/esketamine", "", "categorical")


@pytest.mark.parametrize("item, value, expected", [
    (BENZO, "1", "taking a benzodiazepine"),
    (BENZO, "0", "not taking a benzodiazepine"),
    (BENZO, "1.0", "taking a benzodiazepine"),
    (ECT, "0", "no previous ECT"),
    (ALONE, "0", "does not live alone"),
    (ALONE, "1", "lives alone"),
])
def test_binary_values_read_as_yes_or_no(item, value, expected):
    assert describe_value(item, value) == expected


@pytest.mark.parametrize("item, expected", [
    (BMI, "body-mass index not recorded"),
    (CRP, "C-reactive protein not measured"),  # a lab value is measured, not recorded
    (BENZO, "taking a benzodiazepine not recorded"),
    (EMPLOYMENT, "employment status not recorded"),
])
@pytest.mark.parametrize("missing", ["", None, "nan", "<NA>"])
def test_missing_values_say_not_recorded(item, expected, missing):
    assert describe_value(item, missing) == expected


@pytest.mark.parametrize("item, value, context, expected", [
    (BMI, "34.2", {}, "body-mass index 34.2 kg/m²"),
    (BMI, "34.0", {}, "body-mass index 34 kg/m²"),
    (CRP, "0.891", {}, "C-reactive protein 0.89 mg/L"),
    (TRIALS, "4", {}, "4 failed antidepressant trials"),
    (TRIALS, "1.0", {}, "1 failed antidepressant trial"),
    (TRIALS, "0", {}, "no failed antidepressant trials"),
    (MADRS, "38", {}, "baseline MADRS 38 (scale 0–60)"),
    (DOSE, "0.5", {"dose_unit": "mg_per_kg"}, "first dose 0.5 mg/kg"),
    (DOSE, "56", {"dose_unit": "mg"}, "first dose 56 mg"),
    (DOSE, "56", {}, "first dose 56"),
    (Characteristic("episode_months", "length of current episode", "months"), "1",
     {}, "length of current episode 1 month"),
    (Characteristic("age_years", "age", "years"), "51.0", {}, "age 51 years"),
])
def test_numeric_values_carry_their_unit(item, value, context, expected):
    assert describe_value(item, value, context) == expected


@pytest.mark.parametrize("item, value, expected", [
    (EMPLOYMENT, "unemployed", "employment status: unemployed"),
    (ROUTE, "iv", "route of ketamine/esketamine: intravenous"),
    (ROUTE, "intranasal", "route of ketamine/esketamine: intranasal"),
    (Characteristic("diagnosis", "diagnosis", kind="categorical"), "bipolar_ii",
     "diagnosis: bipolar II disorder"),
])
def test_categories_read_as_label_and_value(item, value, expected):
    assert describe_value(item, value) == expected


def test_a_numeric_feature_with_text_falls_back_to_label_and_value():
    assert describe_value(BMI, "not done") == "body-mass index: not done"


@pytest.mark.parametrize("points, expected", [
    (7.2, "about 7 points"), (-7.2, "about 7 points"), (6.5, "about 7 points"),
    (1.2, "about 1 point"), (0.99, "less than 1 point"), (-0.3, "less than 1 point"),
    (12.5, "about 13 points"),
])
def test_points_are_rounded_as_spoken(points, expected):
    assert points_words(points) == expected


def test_contributions_read_as_a_share_of_the_difference_not_as_an_effect():
    # An association, and this patient's: "lowers the chance by 12 points" read as advice to
    # stop the benzodiazepine, and the same log-odds shows as different points elsewhere.
    expected = "accounts for about 7 points of the difference from a typical patient"
    assert contribution_phrase(7.2) == expected
    assert contribution_phrase(-7.2) == expected  # the list it appears in says which way
    assert contribution_phrase(-0.6) == ("accounts for less than 1 point of the difference "
                                         "from a typical patient")


@pytest.mark.parametrize("probability, expected", [
    (0.62, "about 6 in 10 patients like this one would be expected to respond"),
    (0.65, "about 7 in 10 patients like this one would be expected to respond"),  # half up
    (0.12, "about 1 in 10 patients like this one would be expected to respond"),
    (0.03, "fewer than 1 in 10 patients like this one would be expected to respond"),
    (0.97, "more than 9 in 10 patients like this one would be expected to respond"),
])
def test_natural_frequency_is_an_expectation_not_an_observation(probability, expected):
    assert natural_frequency(probability) == expected


def test_natural_frequency_out_of_100_and_remission():
    assert (natural_frequency(0.624, "reach remission", out_of=100)
            == "about 62 in 100 patients like this one would be expected to reach remission")


@pytest.mark.parametrize("probability, expected", [
    (0.624, "62 %"), (0.625, "63 %"), (0.004, "less than 1 %"), (0.996, "more than 99 %")])
def test_percent(probability, expected):
    assert percent(probability) == expected


@pytest.mark.parametrize("probability, expected", [(0.996, "99 %"), (0.001, "1 %"), (0.5, "50 %")])
def test_interval_ends_stay_within_1_and_99_percent(probability, expected):
    assert percent_bound(probability) == expected


def test_target_sentence_in_words():
    response = {"instrument_label": "MADRS", "definition": "response", "min_reduction": 0.5,
                "endpoint_window": [10, 28]}
    assert target_sentence(response) == ("response: at least a 50 % reduction in MADRS between "
                                         "baseline and the last rating on days 10–28")
    remission = {**response, "definition": "remission", "remission_max": 10}
    assert target_sentence(remission) == ("remission: MADRS total of 10 or less at the last "
                                          "rating on days 10–28")


def test_additivity_gap_in_points():
    from models.report.view import gap_points
    assert gap_points(0.5, 0.0) == 0.0
    assert gap_points(0.5, 0.2) == pytest.approx(100 * (0.5 - 1 / (1 + math.exp(0.2))))
    assert gap_points(0.5, -0.2) < 0
