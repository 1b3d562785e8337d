"""Leakage guard: nothing recorded after the prediction day can change any feature.

Property: for random edits (change, add, delete) of records dated after the prediction day, of
what was measured during a session on the prediction day itself, and of ratings and samples
marked `post_dose` on the prediction day (taken after that day's dose, when the decision was
already made) or on day 0 (a rating after the first dose is never a baseline), every feature of
every patient stays bit-for-bit the same.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.schemas import contract_schemas
from pipeline.simulation import simulate_cohort
from tests.support import roundtrip_csv

DATED = {"assessments": "day", "sessions": "day", "biomarkers": "day"}
VALUE_COLUMNS = {"assessments": ["score"], "biomarkers": ["value"],
                 "sessions": ["dose", "dissociation_cadss", "sbp_change_mmhg"]}
TIMED = ("assessments", "biomarkers")  # the tables with a `timing` column


@pytest.fixture(scope="module")
def cohort(registries):
    raw = simulate_cohort(n_patients=80, n_sites=2, seed=5).tables
    schemas = contract_schemas(registries)
    return {name: schemas[name].validate(roundtrip_csv(t)) for name, t in raw.items()}


def _tamper(tables, prediction_day, rng):
    out = {name: t.copy() for name, t in tables.items()}
    for name, day_column in DATED.items():
        t = out[name]
        future = t[day_column] > prediction_day
        idx = t.index[future.to_numpy()]
        if len(idx) == 0:
            continue
        # Change values of some future rows (within the contract's ranges).
        changed = rng.choice(idx, size=max(1, len(idx) // 3), replace=False)
        for column in VALUE_COLUMNS[name]:
            t.loc[changed, column] = (t.loc[changed, column] * 0.5).round(0)
        # Delete some, and add copies of others moved further into the future.
        dropped = rng.choice(idx, size=max(1, len(idx) // 4), replace=False)
        added = t.loc[rng.choice(idx, size=max(1, len(idx) // 4))].copy()
        added[day_column] = added[day_column] + 100
        out[name] = pd.concat([t.drop(index=dropped), added], ignore_index=True)
    # What happened during a session on the prediction day is measured after the decision.
    s = out["sessions"]
    today = s["day"] == prediction_day
    s.loc[today, "dissociation_cadss"] = 91
    s.loc[today, "sbp_change_mmhg"] = 60
    # So is a rating or a sample taken after the prediction day's dose; and a rating after the
    # first dose (day 0) is never a baseline, whatever the prediction day.
    for name in TIMED:
        t = _with_timing(out[name])
        known = t.index[(t["day"] <= prediction_day).to_numpy()]
        days = [prediction_day] + ([0] if name == "assessments" and prediction_day > 0 else [])
        added = []
        for day in days:
            copies = t.loc[rng.choice(known, size=max(1, len(known) // 3), replace=False)].copy()
            copies["day"] = day
            for column in VALUE_COLUMNS[name]:
                copies[column] = (copies[column] * 0.5).round(0)
            added.append(copies.assign(timing="post_dose"))
        out[name] = pd.concat([t, *added], ignore_index=True)
    # Order of rows must not matter either.
    return {name: t.sample(frac=1.0, random_state=int(rng.integers(1e9))).reset_index(drop=True)
            for name, t in out.items()}


def _with_timing(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the optional `timing` column, unmarked where it had none."""
    if "timing" in frame:
        return frame.copy()
    return frame.assign(timing=pd.Series(pd.NA, index=frame.index, dtype="str"))


def _post_dose_day0_copies(tables, timing="post_dose"):
    """Every day-0 rating and sample again, with another value, marked `timing`; appended last,
    where the old code took the last record of a day as the baseline."""
    out = dict(tables)
    for name in TIMED:
        t = _with_timing(tables[name])
        copies = t[t["day"] == 0].copy()
        for column in VALUE_COLUMNS[name]:
            copies[column] = (copies[column] * 0.5).round(0)
        out[name] = pd.concat([t, copies.assign(timing=timing)], ignore_index=True)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), prediction_day=st.sampled_from([0, 1, 7, 14]))
def test_future_records_never_change_features(cohort, build, seed, prediction_day):
    before = build(cohort, prediction_day=prediction_day)
    after = build(_tamper(cohort, prediction_day, np.random.default_rng(seed)),
                  prediction_day=prediction_day)
    pd.testing.assert_frame_equal(before.sort_index(), after.sort_index(), check_exact=True)


def test_tampering_does_change_features_when_it_reaches_the_past(cohort, build):
    # Guard against a vacuous property: the same edits made one day early do show up.
    edited = {name: t.copy() for name, t in cohort.items()}
    a = edited["assessments"]
    a.loc[(a["day"] == 0) & (a["instrument"] == "madrs"), "score"] = 59
    assert not build(edited)["baseline_madrs"].equals(build(cohort)["baseline_madrs"])


def test_post_index_bdnf_is_ignored_but_used_if_prediction_day_allows(cohort, build):
    b = cohort["biomarkers"]
    assert ((b["marker"] == "bdnf_serum_ng_ml") & (b["day"] == 7)).any()
    day0 = build(cohort, prediction_day=0)["bdnf_serum_ng_ml"]
    day7 = build(cohort, prediction_day=7)["bdnf_serum_ng_ml"]
    assert not day0.equals(day7)


def test_a_post_dose_day0_rating_or_sample_never_changes_a_feature(cohort, build):
    edited = _post_dose_day0_copies(cohort)
    pd.testing.assert_frame_equal(build(cohort).sort_index(), build(edited).sort_index(),
                                  check_exact=True)


def test_post_dose_day0_copies_would_reach_the_features_were_they_unmarked(cohort, build):
    # Guard against a vacuous test: the same copies unmarked (taken as pre-dose) are baselines.
    edited = _post_dose_day0_copies(cohort, timing=None)
    assert not build(edited)["baseline_madrs"].equals(build(cohort)["baseline_madrs"])


def test_a_post_dose_day0_sample_is_known_on_a_later_prediction_day_but_no_baseline(cohort,
                                                                                       build):
    edited = _post_dose_day0_copies(cohort)
    later, later_edited = build(cohort, prediction_day=1), build(edited, prediction_day=1)
    assert not later_edited["bdnf_serum_ng_ml"].equals(later["bdnf_serum_ng_ml"])  # known by day 1
    for column in ("baseline_madrs", "baseline_severity_band", "resistance_stage"):
        pd.testing.assert_series_equal(later_edited[column], later[column])
