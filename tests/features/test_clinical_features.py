"""Each feature on tiny hand-written tables with known answers."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.features.conftest import typed


def _one_patient(registries, **extra):
    patients = [{"patient_id": "p1", "episode_months": 30, "bmi": 31.5, "sex": "female"},
                {"patient_id": "p2"}]
    return typed(registries, patients=patients,
                 assessments=extra.pop("assessments", [{"patient_id": "p1", "day": 0,
                                                        "instrument": "madrs", "score": 38}]),
                 **extra)


def test_prior_failed_trials_counts_only_failed_adequate_antidepressants(registries, build):
    rows = [
        {"patient_id": "p1", "treatment_class": "ssri", "start_day": -300, "adequate_trial": 1,
         "outcome": "none"},
        {"patient_id": "p1", "treatment_class": "snri", "start_day": -200, "adequate_trial": 1,
         "outcome": "partial"},
        {"patient_id": "p1", "treatment_class": "tca", "start_day": -100, "adequate_trial": 1,
         "outcome": "intolerant"},
        # Not failures of an adequate antidepressant trial:
        {"patient_id": "p1", "treatment_class": "bupropion", "start_day": -90,
         "adequate_trial": 0, "outcome": "none"},
        {"patient_id": "p1", "treatment_class": "mirtazapine", "start_day": -80,
         "adequate_trial": 1, "outcome": "response"},
        {"patient_id": "p1", "treatment_class": "ssri", "start_day": -70, "adequate_trial": 1,
         "outcome": "unknown"},
        {"patient_id": "p1", "treatment_class": "benzodiazepine", "start_day": -60,
         "outcome": "none", "ongoing_at_index": 1},
        {"patient_id": "p1", "treatment_class": "ect", "start_day": -50, "adequate_trial": 1,
         "outcome": "none"},
        {"patient_id": "p1", "treatment_class": "antipsychotic_augmentation",
         "start_day": -40, "adequate_trial": 1, "outcome": "none"},
    ]
    f = build(_one_patient(registries, treatments=rows))
    assert f.loc["p1", "prior_failed_trials"] == 3
    assert pd.isna(f.loc["p2", "prior_failed_trials"])  # no history recorded, not "none"
    assert f.loc["p1", "benzodiazepine_at_index"] == 1
    assert f.loc["p1", "ect_history"] == 1
    assert f.loc["p1", "augmentation_history"] == 1
    assert f.loc["p1", "tms_history"] == 0
    # 30 months -> 3; MADRS 38 "severe" -> 4; 3 failures -> 2; augmentation 1; ECT 1
    assert f.loc["p1", "resistance_stage"] == 11
    assert pd.isna(f.loc["p2", "resistance_stage"])  # no episode length, no baseline


def test_past_benzodiazepine_is_not_at_index(registries, build):
    rows = [{"patient_id": "p1", "treatment_class": "benzodiazepine", "start_day": -400,
             "ongoing_at_index": 0},
            {"patient_id": "p1", "treatment_class": "ssri", "start_day": -300,
             "adequate_trial": 1, "outcome": "none", "ongoing_at_index": 1}]
    assert build(_one_patient(registries, treatments=rows)).loc["p1",
                                                               "benzodiazepine_at_index"] == 0


def test_baseline_is_last_score_in_window_and_never_after_index(registries, build):
    ratings = [
        {"patient_id": "p1", "day": -20, "instrument": "madrs", "score": 44},  # too early
        {"patient_id": "p1", "day": -10, "instrument": "madrs", "score": 36},
        {"patient_id": "p1", "day": -2, "instrument": "madrs", "score": 34},   # last in window
        {"patient_id": "p1", "day": 1, "instrument": "madrs", "score": 12},    # after index
        {"patient_id": "p1", "day": -3, "instrument": "phq9", "score": 19},
        {"patient_id": "p2", "day": -20, "instrument": "madrs", "score": 30},  # outside only
    ]
    f = build(_one_patient(registries, assessments=ratings))
    assert f.loc["p1", "baseline_madrs"] == 34
    assert f.loc["p1", "baseline_phq9"] == 19
    assert f.loc["p1", "baseline_severity_band"] == "moderate"
    assert pd.isna(f.loc["p2", "baseline_madrs"])
    assert pd.isna(f.loc["p1", "baseline_hamd17"])
    assert "baseline_cadss" not in f.columns  # a session effect, not a baseline state


def test_biomarker_is_last_value_in_window_before_index(registries, build):
    rows = [
        {"patient_id": "p1", "day": -200, "marker": "crp_mg_l", "value": 9.0},  # too old
        {"patient_id": "p1", "day": -30, "marker": "crp_mg_l", "value": 4.2},
        {"patient_id": "p1", "day": -5, "marker": "crp_mg_l", "value": 2.1},
        {"patient_id": "p1", "day": 7, "marker": "bdnf_serum_ng_ml", "value": 30.0},  # future
        {"patient_id": "p1", "day": -400, "marker": "bdnf_met_alleles", "value": 1},  # genotype
    ]
    f = build(_one_patient(registries, biomarkers=rows))
    assert f.loc["p1", "crp_mg_l"] == 2.1
    assert pd.isna(f.loc["p1", "bdnf_serum_ng_ml"])
    assert f.loc["p1", "bdnf_met_alleles"] == 1
    assert pd.isna(f.loc["p2", "crp_mg_l"])


def test_route_and_dose_of_first_session_without_session_effects(registries, build):
    rows = [
        {"patient_id": "p1", "day": 0, "route": "intranasal", "dose": 56, "dose_unit": "mg",
         "dissociation_cadss": 30},
        {"patient_id": "p1", "day": 3, "route": "intranasal", "dose": 84, "dose_unit": "mg"},
    ]
    f = build(_one_patient(registries, sessions=rows))
    assert f.loc["p1", "route"] == "intranasal"
    assert f.loc["p1", "dose_mg"] == 56
    assert pd.isna(f.loc["p1", "dose_mg_per_kg"])
    assert pd.isna(f.loc["p2", "route"])


def test_patient_characteristics_pass_through_and_missing_stays_missing(registries, build):
    f = build(_one_patient(registries))
    assert f.loc["p1", "bmi"] == 31.5
    assert f.loc["p1", "sex"] == "female"
    assert pd.isna(f.loc["p2", "bmi"]) and pd.isna(f.loc["p2", "sex"])
    assert pd.isna(f.loc["p1", "age_years"])  # column absent from the export


def test_patient_id_is_key_not_feature(registries, build):
    f = build(_one_patient(registries))
    assert f.index.name == "patient_id"
    assert "patient_id" not in f.columns


@pytest.mark.parametrize("episode, failures, band_score, expected", [
    (6, 0, 5, 1 + 1 + 0),        # subsyndromal, short, no failures
    (13, 2, 25, 2 + 3 + 1),
    (25, 5, 40, 3 + 4 + 3),
    (25, 11, 40, 3 + 4 + 5),
])
def test_resistance_stage_mapping(registries, build, episode, failures, band_score, expected):
    trials = [{"patient_id": "p1", "treatment_class": "ssri", "start_day": -10 - i,
               "adequate_trial": 1, "outcome": "none"} for i in range(failures)]
    # A recorded trial that worked: zero failures is then a recorded zero, not a missing history.
    trials.append({"patient_id": "p1", "treatment_class": "bupropion", "start_day": -5,
                   "adequate_trial": 1, "outcome": "response"})
    tables = typed(registries, patients=[{"patient_id": "p1", "episode_months": episode}],
                   assessments=[{"patient_id": "p1", "day": 0, "instrument": "madrs",
                                 "score": band_score}],
                   treatments=trials)
    assert build(tables).loc["p1", "resistance_stage"] == expected
