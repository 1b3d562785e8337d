"""Internal validation by resampling the whole procedure (models/resampling.py, issue 16).

The deployed model is developed on every labelled patient; every per-patient figure of the
evaluation comes from a development that never saw that patient; with three or more sites each
site is predicted by a development on the others.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import compute_features
from features.catalog import build_registry
from features.labels import make_labels
from features.records import known_on
from models.procedure import Procedure, develop
from models.split import DEVELOPMENT, split_patients
from models.training import development_data, train
from pipeline.core.schemas import contract_schemas
from pipeline.simulation import simulate_cohort
from tests.support import roundtrip_csv

SEED = 5
CHEAP = dict(model="auto", calibrator="platt", cv_folds=3, search_budget=2, seed=SEED,
             uncertainty_replicates=0)


@pytest.fixture(scope="module")
def cohort(registries):
    raw = simulate_cohort(n_patients=400, n_sites=4, seed=21).tables
    schemas = contract_schemas(registries)
    tables = {n: schemas[n].validate(roundtrip_csv(t)) for n, t in raw.items()}
    features = compute_features(known_on(tables, 0),
                                build_registry(registries, "madrs", (-14, 0), 90))
    labels = make_labels(tables["patients"]["patient_id"], tables["assessments"],
                         registries.instruments["madrs"], "response", (-14, 0), (10, 28), 0.5)
    sites = tables["patients"].set_index("patient_id")["site"]
    return features, labels, sites


@pytest.fixture(scope="module")
def cross_validated(cohort):
    features, labels, sites = cohort
    split = split_patients(labels, sites, 0.25, SEED, strategy="cross_validation")
    return split, train(features, labels, split, **CHEAP, strategy="cross_validation", folds=3,
                        repeats=1, sites=sites, by_site=True, workers=2)


def test_a_resampling_strategy_develops_the_deployed_model_on_every_labelled_patient(
        cohort, cross_validated):
    _, labels, _ = cohort
    split, outcome = cross_validated
    labelled = set(labels.loc[labels["label"].notna(), "patient_id"])
    assert set(split["patient_id"]) == labelled
    assert (split["set"] == DEVELOPMENT).all()
    assert outcome.n_development == len(labelled)


def test_the_final_model_never_scores_its_own_evaluation_patients(cohort, cross_validated):
    """Each evaluated prediction equals that of a development on the other folds only, and
    differs from the deployed model's prediction for the same patient."""
    features, labels, _ = cohort
    split, outcome = cross_validated
    oof = outcome.validation.out_of_sample
    assert set(oof["patient_id"]) == set(split["patient_id"])
    dev, y = development_data(features, labels, split)
    by_id = dev.set_index("patient_id")
    final = outcome.models[outcome.candidate].predict_proba(
        by_id.loc[oof["patient_id"]].reset_index())
    assert not np.allclose(final, oof["candidate_calibrated"].to_numpy(), atol=1e-6)

    # Re-develop fold 1 by hand, without its patients: it reproduces their predictions.
    fold_ids = oof.loc[oof["fold"] == 1, "patient_id"]
    inside = ~dev["patient_id"].isin(fold_ids)
    procedure = Procedure(CHEAP["model"], CHEAP["calibrator"], CHEAP["cv_folds"],
                          CHEAP["search_budget"], SEED)
    developed = develop(dev[inside].reset_index(drop=True), y[inside.to_numpy()], procedure)
    held_out = dev[~inside].set_index("patient_id").loc[fold_ids].reset_index()
    expected = developed.models[developed.candidate].predict_proba(held_out)
    got = oof.set_index("patient_id").loc[fold_ids, "candidate_calibrated"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_each_site_is_predicted_by_a_development_on_the_other_sites(cohort, cross_validated):
    """Also the worker-count check: the fixture ran its developments on two processes, this
    re-development runs in this one, and the predictions agree to 1e-12."""
    features, labels, sites = cohort
    split, outcome = cross_validated
    table = outcome.validation.by_site
    assert sorted(table["site"].unique()) == ["site_01", "site_02", "site_03", "site_04"]
    assert (table["site"].to_numpy() == sites.reindex(table["patient_id"]).to_numpy()).all()
    # site_02's patients, predicted by a development on the other three sites only.
    dev, y = development_data(features, labels, split)
    others = sites.reindex(dev["patient_id"]).to_numpy() != "site_02"
    procedure = Procedure(CHEAP["model"], CHEAP["calibrator"], CHEAP["cv_folds"],
                          CHEAP["search_budget"], SEED)
    developed = develop(dev[others].reset_index(drop=True), y[others], procedure)
    rows = table[table["site"] == "site_02"]
    expected = developed.models[developed.candidate].predict_proba(
        dev.set_index("patient_id").loc[rows["patient_id"]].reset_index())
    np.testing.assert_allclose(rows["candidate_calibrated"].to_numpy(), expected, atol=1e-12)


def test_fewer_than_three_sites_are_not_left_out_and_the_summary_says_why(cohort):
    features, labels, sites = cohort
    two = sites.where(sites.isin(["site_01", "site_02"]), "site_01")
    split = split_patients(labels, two, 0.25, SEED)
    outcome = train(features, labels, split, **CHEAP, strategy="holdout", sites=two,
                    by_site=True, workers=1)
    assert outcome.validation.by_site is None
    assert "at least 3" in outcome.validation.summary["by_site"]["skipped"]


@pytest.fixture(scope="module")
def bootstrapped(cohort):
    features, labels, sites = cohort
    split = split_patients(labels, sites, 0.25, SEED, strategy="bootstrap")
    return split, train(features, labels, split, **CHEAP, strategy="bootstrap", resamples=6,
                        sites=None, by_site=False, workers=2)


def test_bootstrap_keeps_each_resample_and_out_of_bag_predictions(bootstrapped):
    split, outcome = bootstrapped
    v = outcome.validation
    assert v.summary["resamples_used"] == 6
    boot = v.bootstrap
    n = len(split)
    for _, rows in boot.groupby("resample"):
        assert (rows["set"] == "original").sum() == n
        assert (rows["set"] == "sample").sum() == n
    # A patient's out-of-bag prediction is the mean over the resamples that did not draw them.
    oob = v.out_of_sample
    sums, counts = np.zeros(n), np.zeros(n)
    for _, rows in boot.groupby("resample"):
        outside = np.ones(n, dtype=bool)
        outside[rows.loc[rows["set"] == "sample", "row"].to_numpy()] = False
        original = rows[rows["set"] == "original"].sort_values("row")
        sums[outside] += original["candidate_calibrated"].to_numpy()[outside]
        counts[outside] += 1
    assert (oob["resamples_out_of_bag"].to_numpy() == counts).all()
    covered = counts > 0
    np.testing.assert_allclose(oob["candidate_calibrated"].to_numpy()[covered],
                               sums[covered] / counts[covered], atol=1e-12)


def test_bootstrap_evaluation_subtracts_the_optimism_and_reports_out_of_bag_patients(
        cohort, bootstrapped):
    """The evaluate stage's reading of a bootstrap validation: the deployed model's apparent
    figures minus the procedure's mean optimism; per-patient rows are out-of-bag."""
    from models.subgroups import PoorSubgroupRule
    from pipeline.evaluate import validated_result

    features, labels, sites = cohort
    split, outcome = bootstrapped
    settings = {"seed": SEED, "n_resamples": 200, "thresholds": [0.3, 0.5],
                "min_n": 30, "min_events": 10, "rule": PoorSubgroupRule()}
    result = validated_result(outcome.validation, outcome.models[outcome.candidate],
                              outcome.models[outcome.comparator], features, labels, split,
                              sites, settings, n_replicates=0)
    apparent = result["apparent"]
    corrected = result["headline"]["candidate_calibrated"]
    optimism = result["optimism"]["figures"]["candidate_calibrated"]["auroc"]
    assert optimism > 0  # a flexible procedure looks better on the patients it learned from
    assert corrected["auroc"] == pytest.approx(apparent["auroc"] - optimism, abs=1e-4)
    oob = outcome.validation.out_of_sample
    covered = oob[oob["resamples_out_of_bag"] > 0]
    assert list(result["predictions"]["patient_id"]) == list(covered["patient_id"])
    np.testing.assert_allclose(result["predictions"]["candidate_calibrated"],
                               covered["candidate_calibrated"], atol=1e-12)
