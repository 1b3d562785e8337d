"""The simulator writes tables that obey the data contract, and keeps the truth out of them."""
from __future__ import annotations

import pandas as pd
import pytest

from pipeline.core.contract import TABLE_NAMES, contract_tables
from pipeline.core.schemas import contract_schemas
from tests.support import roundtrip_csv


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_every_table_passes_its_schema(small_cohort, registries, table):
    schema = contract_schemas(registries)[table]
    typed = schema.validate(roundtrip_csv(small_cohort.tables[table]), lazy=True)
    assert len(typed) == len(small_cohort.tables[table])


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_columns_are_the_contract_columns_in_order(small_cohort, registries, table):
    contract = contract_tables(registries)[table]
    assert list(small_cohort.tables[table].columns) == contract.column_names


def test_every_row_belongs_to_a_known_patient(small_cohort):
    known = set(small_cohort.tables["patients"]["patient_id"])
    for name in ("treatments", "assessments", "sessions", "biomarkers"):
        assert set(small_cohort.tables[name]["patient_id"]) <= known, name


def test_everyone_has_a_day0_session_and_nothing_before_it(small_cohort):
    sessions = small_cohort.tables["sessions"]
    first = sessions.groupby("patient_id")["day"].min()
    assert (first == 0).all()
    assert len(first) == len(small_cohort.tables["patients"])


def test_prior_treatments_start_before_index(small_cohort):
    assert (small_cohort.tables["treatments"]["start_day"] <= 0).all()


def test_no_duplicate_rows_or_conflicting_ratings(small_cohort):
    for name, table in small_cohort.tables.items():
        assert not table.duplicated().any(), name
    ratings = small_cohort.tables["assessments"]
    per_day = ratings.groupby(["patient_id", "instrument", "day"])["score"].nunique()
    assert (per_day == 1).all()


def test_truth_never_reaches_the_input_tables(small_cohort):
    for name, table in small_cohort.tables.items():
        assert not any("true" in c or "prob" in c for c in table.columns), name
    assert list(small_cohort.truth.columns) == ["patient_id", "true_probability"]
    assert small_cohort.truth["true_probability"].between(0, 1).all()


def test_ages_are_top_coded(small_cohort):
    assert small_cohort.tables["patients"]["age_years"].max() <= 90


def test_biomarkers_are_missing_for_many_patients(small_cohort):
    measured = small_cohort.tables["biomarkers"].groupby("marker")["patient_id"].nunique()
    n = len(small_cohort.tables["patients"])
    assert (measured < 0.9 * n).all()
    assert (measured > 0.05 * n).all()


def test_some_patients_drop_out_before_the_endpoint(small_cohort):
    madrs = small_cohort.tables["assessments"].query("instrument == 'madrs'")
    with_endpoint = madrs[madrs["day"].between(10, 28)]["patient_id"].nunique()
    n = len(small_cohort.tables["patients"])
    assert 0.75 * n < with_endpoint < 0.97 * n


def test_site_share_of_routes_differs(small_cohort):
    sessions = small_cohort.tables["sessions"].query("day == 0")
    patients = small_cohort.tables["patients"][["patient_id", "site"]]
    mix = pd.crosstab(sessions.merge(patients)["site"], sessions.merge(patients)["route"],
                      normalize="index")
    assert mix["iv"].max() - mix["iv"].min() > 0.3


def test_same_site_seed_gives_the_same_clinics_for_new_patients():
    from pipeline.simulation import simulate_cohort

    def route_mix(cohort):
        first = cohort.tables["sessions"].query("day == 0").merge(
            cohort.tables["patients"][["patient_id", "site"]])
        return pd.crosstab(first["site"], first["route"], normalize="index")

    a = simulate_cohort(n_patients=3000, n_sites=3, seed=1, site_seed=9)
    b = simulate_cohort(n_patients=1500, n_sites=3, seed=2, site_seed=9)
    c = simulate_cohort(n_patients=3000, n_sites=3, seed=3)
    assert not a.tables["patients"]["patient_id"].isin(b.tables["patients"]["patient_id"]).any()
    assert (route_mix(a) - route_mix(b)).abs().max().max() < 0.08
    shares = [t.tables["patients"]["site"].value_counts(normalize=True).sort_index()
              for t in (a, b, c)]
    assert (shares[0] - shares[1]).abs().max() < 0.05   # same clinics, same sizes
    assert (shares[0] - shares[2]).abs().max() > 0.05   # other site seed, other clinics


def test_a_few_patients_have_no_treatment_history_exported(small_cohort):
    # Issue 13: real exports miss some histories; the model must see such patients in training.
    patients = small_cohort.tables["patients"]["patient_id"]
    with_history = patients.isin(small_cohort.tables["treatments"]["patient_id"])
    assert 0.02 <= 1 - with_history.mean() <= 0.10

