"""Issue 13: treatment history is read as the record says, not as "no treatment".

1. A patient whose history was not exported (no treatments table, an empty one as the validate
   stage writes when the table was not supplied, or no antidepressant row for this patient) has
   missing history features and a missing resistance stage, never 0.
2. Failed trials, augmentation and ECT count in the current episode only
   (start_day >= -episode_months x 30.44; Fekadu 2009/2018, TRD definition).
4. No feature mixes units: one first-dose feature per unit.
"""
from __future__ import annotations

import pandas as pd
import pytest

from features.catalog import build_registry
from pipeline.core.contract import contract_tables
from pipeline.core.schemas import empty_typed
from tests.features.conftest import typed

HISTORY = ["prior_failed_trials", "benzodiazepine_at_index", "augmentation_history",
           "ect_history", "tms_history", "psychotherapy_history"]


def _trial(patient="p1", cls="ssri", start=-100, adequate=1, outcome="none", ongoing=0):
    return {"patient_id": patient, "treatment_class": cls, "start_day": start,
            "adequate_trial": adequate, "outcome": outcome, "ongoing_at_index": ongoing}


def _tables(registries, treatments=None, episode=(30, 30), **extra):
    """p1 and p2, both with an episode length and a baseline MADRS of 38, so the resistance
    stage is computable whenever their history is."""
    patients = [{"patient_id": "p1", "episode_months": episode[0]},
                {"patient_id": "p2", "episode_months": episode[1]}]
    ratings = [{"patient_id": p, "day": 0, "instrument": "madrs", "score": 38}
               for p in ("p1", "p2")]
    tables = typed(registries, patients=patients, assessments=ratings, **extra)
    if treatments is not None:
        tables["treatments"] = typed(registries, treatments=treatments)["treatments"]
    return tables


def _all_missing(row: pd.Series, names) -> bool:
    return all(pd.isna(row[name]) for name in names)


# --- 1. missing history is missing ------------------------------------------------------------

def test_no_treatments_table_gives_missing_history_and_stage(registries, build):
    f = build(_tables(registries))
    for patient in ("p1", "p2"):
        assert _all_missing(f.loc[patient], HISTORY + ["resistance_stage"]), f.loc[patient]


def test_empty_treatments_table_as_validate_writes_it_gives_missing_history(registries, build):
    tables = _tables(registries)
    tables["treatments"] = empty_typed(contract_tables(registries)["treatments"])
    f = build(tables)
    assert _all_missing(f.loc["p1"], HISTORY + ["resistance_stage"])


def test_patient_without_rows_is_missing_while_another_is_counted(registries, build):
    f = build(_tables(registries, treatments=[_trial(), _trial(cls="snri", start=-50)]))
    assert f.loc["p1", "prior_failed_trials"] == 2
    assert f.loc["p1", "ect_history"] == 0 and f.loc["p1", "benzodiazepine_at_index"] == 0
    assert pd.notna(f.loc["p1", "resistance_stage"])
    assert _all_missing(f.loc["p2"], HISTORY + ["resistance_stage"]), f.loc["p2"]


def test_recorded_history_without_failures_is_zero_not_missing(registries, build):
    # An antidepressant trial that worked: the history is recorded and shows no failure.
    f = build(_tables(registries, treatments=[_trial(outcome="response")]))
    assert f.loc["p1", "prior_failed_trials"] == 0
    assert f.loc["p1", "augmentation_history"] == 0
    assert f.loc["p1", "psychotherapy_history"] == 0
    assert f.loc["p1", "resistance_stage"] == 3 + 4 + 0  # duration 3, severe 4, no failures


def test_rows_without_any_antidepressant_say_only_what_they_show(registries, build):
    # Only psychotherapy and an ongoing benzodiazepine exported: what is there is 1, the
    # antidepressant history (and so everything read from its absence) is not recorded.
    rows = [_trial(cls="psychotherapy", adequate=None, outcome="unknown"),
            {"patient_id": "p1", "treatment_class": "benzodiazepine", "start_day": -20,
             "ongoing_at_index": 1}]
    f = build(_tables(registries, treatments=rows))
    assert f.loc["p1", "psychotherapy_history"] == 1
    assert f.loc["p1", "benzodiazepine_at_index"] == 1
    assert _all_missing(f.loc["p1"], ["prior_failed_trials", "augmentation_history",
                                      "ect_history", "tms_history", "resistance_stage"])


def test_benzodiazepine_with_unknown_ongoing_status_is_missing(registries, build):
    rows = [_trial(), {"patient_id": "p1", "treatment_class": "benzodiazepine",
                       "start_day": -20}]
    assert pd.isna(build(_tables(registries, treatments=rows)).loc["p1",
                                                                   "benzodiazepine_at_index"])


# --- 2. current episode only ------------------------------------------------------------------

def test_trials_before_the_current_episode_are_not_counted(registries, build):
    # A 6-month episode starts at day -182.64: day -182 is in it, day -183 and earlier are not.
    rows = [_trial(start=-182), _trial(cls="snri", start=-183), _trial(cls="tca", start=-2000),
            _trial(cls="ect", adequate=1, start=-1500),
            _trial(cls="lithium", start=-900)]
    f = build(_tables(registries, treatments=rows, episode=(6, 6)))
    assert f.loc["p1", "prior_failed_trials"] == 1
    assert f.loc["p1", "ect_history"] == 0
    assert f.loc["p1", "augmentation_history"] == 0
    # duration <= 12 months 1, severe 4, one failure 1; earlier ECT and lithium add nothing.
    assert f.loc["p1", "resistance_stage"] == 1 + 4 + 1


def test_tms_and_psychotherapy_stay_lifetime_history(registries, build):
    rows = [_trial(), _trial(cls="tms", start=-3000), _trial(cls="psychotherapy", start=-3000)]
    f = build(_tables(registries, treatments=rows, episode=(6, 6)))
    assert f.loc["p1", "tms_history"] == 1 and f.loc["p1", "psychotherapy_history"] == 1


def test_unknown_episode_length_leaves_episode_counts_missing(registries, build):
    patients = [{"patient_id": "p1"}, {"patient_id": "p2"}]  # no episode length
    treatments = [_trial(), _trial(cls="ect", start=-10),
                  _trial(patient="p2", outcome="response")]
    tables = typed(registries, patients=patients, treatments=treatments,
                   assessments=[{"patient_id": "p1", "day": 0, "instrument": "madrs",
                                 "score": 38}])
    f = build(tables)
    # p1's failure and ECT cannot be placed in an episode of unknown length.
    assert pd.isna(f.loc["p1", "prior_failed_trials"]) and pd.isna(f.loc["p1", "ect_history"])
    # p2's recorded history has no failure, ECT or augmentation at all, in any episode.
    assert f.loc["p2", "prior_failed_trials"] == 0 and f.loc["p2", "ect_history"] == 0
    assert f.loc["p2", "augmentation_history"] == 0


def test_failed_trial_without_start_day_leaves_the_count_missing(registries, build):
    rows = [_trial(start=-30), _trial(cls="snri", start=None)]
    f = build(_tables(registries, treatments=rows))
    assert pd.isna(f.loc["p1", "prior_failed_trials"])
    assert pd.isna(f.loc["p1", "resistance_stage"])


# --- 4. one unit per feature ------------------------------------------------------------------

def test_no_registered_feature_mixes_units(registries):
    registry = build_registry(registries, "madrs", (-14, 0), 90)
    mixed = [spec.name for spec in registry if " or " in spec.unit]
    assert mixed == []
    assert "dose" not in registry


@pytest.mark.parametrize("route, dose, unit, per_kg, mg", [
    ("iv", 0.5, "mg_per_kg", 0.5, None),
    ("intranasal", 56, "mg", None, 56.0),
    ("iv", 0.5, None, None, None),        # unit not recorded: the dose cannot be placed
])
def test_first_dose_has_one_feature_per_unit(registries, build, route, dose, unit, per_kg, mg):
    session = {"patient_id": "p1", "day": 0, "route": route, "dose": dose}
    if unit is not None:
        session["dose_unit"] = unit
    f = build(_tables(registries, sessions=[session]))
    for name, expected in (("dose_mg_per_kg", per_kg), ("dose_mg", mg)):
        if expected is None:
            assert pd.isna(f.loc["p1", name]), name
        else:
            assert f.loc["p1", name] == expected, name
    assert pd.isna(f.loc["p2", "dose_mg_per_kg"]) and pd.isna(f.loc["p2", "dose_mg"])
