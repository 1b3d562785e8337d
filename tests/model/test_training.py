"""Split, calibration, persistence and determinism of the response models."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import compute_features
from features.catalog import build_registry
from features.labels import make_labels
from features.records import known_on
from models.artifact import ResponseModel
from models.calibration import expit, fit_calibrator, logit
from models.factory import CLASSIFIERS
from models.split import DEVELOPMENT, TEST, split_patients
from models.training import train
from pipeline.core.schemas import contract_schemas
from pipeline.simulation import simulate_cohort
from tests.support import roundtrip_csv


@pytest.fixture(scope="module")
def cohort(registries):
    raw = simulate_cohort(n_patients=600, n_sites=3, seed=11).tables
    schemas = contract_schemas(registries)
    tables = {n: schemas[n].validate(roundtrip_csv(t)) for n, t in raw.items()}
    features = compute_features(known_on(tables, 0),
                                build_registry(registries, "madrs", (-14, 0), 90))
    labels = make_labels(tables["patients"]["patient_id"], tables["assessments"],
                         registries.instruments["madrs"], "response", (-14, 0), (10, 28), 0.5)
    sites = tables["patients"].set_index("patient_id")["site"]
    return features, labels, sites


def test_split_is_disjoint_stratified_and_leaves_out_the_unlabelled(cohort):
    _, labels, sites = cohort
    split = split_patients(labels, sites, 0.25, seed=3)
    assert split["patient_id"].is_unique
    assert set(split["patient_id"]) == set(labels.loc[labels["label"].notna(), "patient_id"])
    y = labels.set_index("patient_id")["label"].reindex(split["patient_id"]).to_numpy()
    test = (split["set"] == TEST).to_numpy()
    assert abs(test.mean() - 0.25) < 0.01
    assert abs(y[test].mean() - y[~test].mean()) < 0.02


def test_holdout_site_puts_exactly_that_site_in_test(cohort):
    _, labels, sites = cohort
    split = split_patients(labels, sites, 0.25, seed=3, holdout_site="site_02")
    site_of = sites.reindex(split["patient_id"]).to_numpy()
    assert (split["set"].to_numpy() == np.where(site_of == "site_02", TEST, DEVELOPMENT)).all()
    with pytest.raises(ValueError, match="no labelled patients"):
        split_patients(labels, sites, 0.25, seed=3, holdout_site="site_99")


def test_platt_recovers_a_known_miscalibration():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 20000)
    y = (rng.random(20000) < expit(0.4 + 0.6 * z)).astype(int)
    calibrator = fit_calibrator("platt", y, expit(z))
    assert calibrator.intercept == pytest.approx(0.4, abs=0.05)
    assert calibrator.slope == pytest.approx(0.6, abs=0.05)
    assert np.allclose(logit(calibrator.transform(expit(z))), 0.4 * 0 + calibrator.logodds(z))


def test_isotonic_is_labelled_as_breaking_additivity():
    rng = np.random.default_rng(1)
    p = rng.random(500)
    calibrator = fit_calibrator("isotonic", (rng.random(500) < p).astype(int), p)
    assert calibrator.to_dict()["exactly_additive"] is False
    assert np.all(np.diff(calibrator.transform(np.linspace(0, 1, 50))) >= 0)


@pytest.fixture(scope="module")
def trained(cohort):
    features, labels, sites = cohort
    split = split_patients(labels, sites, 0.25, seed=3)
    outcome = train(features, labels, split, model="auto", calibrator="platt", cv_folds=3,
                    search_budget=2, seed=5)
    return outcome, features, split


def test_candidate_has_the_best_calibrated_cross_validated_log_loss(cohort, trained):
    """Classifiers compete on what would be deployed: their calibrated out-of-fold predictions
    (models/procedure.py); the comparator is the best of the others."""
    from sklearn.metrics import log_loss

    from models.training import development_data
    features, labels, _ = cohort
    outcome, _, split = trained
    _, y = development_data(features, labels, split)
    losses = {name: log_loss(y, outcome.models[name].calibrator.transform(result.out_of_fold))
              for name, result in outcome.searches.items()}
    for name, loss in losses.items():
        assert outcome.calibrated_log_loss[name] == pytest.approx(loss, rel=1e-9)
    assert outcome.candidate == min(losses, key=losses.get)
    others = {n: v for n, v in losses.items() if n != outcome.candidate}
    assert outcome.comparator == min(others, key=others.get)
    assert set(outcome.models) == set(CLASSIFIERS)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_saved_model_predicts_exactly_as_fitted(trained, tmp_path, name):
    outcome, features, _ = trained
    model = outcome.models[name]
    model.save(tmp_path)
    loaded = ResponseModel.load(tmp_path)
    assert np.array_equal(model.predict_proba(features), loaded.predict_proba(features))
    assert np.all((loaded.predict_proba(features) > 0) & (loaded.predict_proba(features) < 1))


def test_same_data_params_and_seed_give_identical_model_files(cohort, trained, tmp_path):
    outcome, features, split = trained
    features_, labels, _ = cohort
    again = train(features_, labels, split, model="auto", calibrator="platt", cv_folds=3,
                  search_budget=2, seed=5)
    for name in outcome.models:
        outcome.models[name].save(tmp_path / "a" / name)
        again.models[name].save(tmp_path / "b" / name)
        for file in (tmp_path / "a" / name).iterdir():
            assert file.read_bytes() == (tmp_path / "b" / name / file.name).read_bytes(), file


def test_unseen_category_and_missing_values_still_score(trained):
    outcome, features, _ = trained
    odd = features.head(3).copy()
    odd["route"] = "transdermal"        # never seen in training
    odd["bmi"] = pd.NA
    for model in outcome.models.values():
        p = model.predict_proba(odd)
        assert np.isfinite(p).all()


def test_same_model_and_seed_give_identical_metrics(trained, cohort):
    from models.evaluation import evaluate, test_set

    outcome, features, split = trained
    _, labels, sites = cohort
    test = test_set(features, labels, split, sites)

    def run():
        result = evaluate(outcome.models[outcome.candidate], outcome.models[outcome.comparator],
                          test, seed=7, n_resamples=200, thresholds=[0.5], min_n=30,
                          min_events=10)
        return result["headline"], result["subgroups"]

    (headline_a, subgroups_a), (headline_b, subgroups_b) = run(), run()
    assert headline_a == headline_b
    pd.testing.assert_frame_equal(subgroups_a, subgroups_b)
    assert headline_a["candidate_calibrated"]["n_test"] == int((split["set"] == TEST).sum())
