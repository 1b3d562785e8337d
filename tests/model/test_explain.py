"""Explanations add up exactly on the calibrated scale; intervals and OOD flags behave."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.calibration import logit
from models.explain import explain, long_format
from models.scoring import score
from tests.support import demo_bundle
from models.split import split_patients
from models.training import train
from tests.model.test_training import cohort  # noqa: F401 - shared fixture


@pytest.fixture(scope="module", params=["platt", "isotonic"])
def outcome(request, cohort):  # noqa: F811
    features, labels, sites = cohort
    split = split_patients(labels, sites, 0.25, seed=3)
    result = train(features, labels, split, model="auto", calibrator=request.param, cv_folds=3,
                   search_budget=2, seed=5, uncertainty_replicates=4)
    return result, features, labels


@pytest.mark.parametrize("name", ["lightgbm", "logistic", "ebm"])
def test_contributions_add_up_to_the_calibrated_prediction_for_every_patient(outcome, name):
    result, features, _ = outcome
    model = result.models[name]
    e = explain(model, features)
    reached = e.base_logodds + e.contributions.sum(axis=1)
    # The reference is the model's own prediction, computed independently of the explanation.
    predicted = model.predict_proba(features)
    assert np.abs(e.calibrated_probability - predicted).max() < 1e-9
    if model.calibrator.method == "platt":
        assert np.abs(reached - logit(predicted)).max() < 1e-6
        assert np.abs(e.additivity_gap).max() < 1e-6
    else:
        # Isotonic breaks exact additivity; the gap is reported, not hidden.
        assert np.allclose(reached + e.additivity_gap, logit(predicted))
        assert model.calibrator.exactly_additive is False


@pytest.mark.parametrize("name", ["lightgbm", "logistic", "ebm"])
def test_percentage_points_add_up_to_probability_minus_base(outcome, name):
    result, features, _ = outcome
    e = explain(result.models[name], features)
    points = e.percentage_points()
    p_reached = 1 / (1 + np.exp(-(e.base_logodds + e.contributions.sum(axis=1))))
    assert np.allclose(points.sum(axis=1), 100 * (p_reached - e.base_probability), atol=1e-9)
    assert np.all(np.sign(points) == np.sign(e.contributions))


def test_linear_shap_matches_the_shap_library_for_the_logistic_model(outcome):
    shap = pytest.importorskip("shap")
    result, features, _ = outcome
    model = result.models["logistic"]
    if model.calibrator.method != "platt":
        pytest.skip("compared on the Platt fit only")
    design = model.estimator.named_steps["design"]
    z = design.transform(model.layout.frame(features))
    classifier = model.estimator.named_steps["classifier"]
    mean = np.asarray(model.info["design_means"])
    explainer = shap.LinearExplainer((classifier.coef_, classifier.intercept_),
                                     shap.maskers.Independent(mean.reshape(1, -1)))
    reference = explainer.shap_values(z[:50])
    by_feature = np.column_stack([reference[:, design.output_indices_[f]].sum(axis=1)
                                  for f in model.layout.order])
    ours = explain(model, features.head(50)).contributions / model.calibrator.slope
    assert np.allclose(ours, by_feature, atol=1e-9)


def test_lightgbm_contributions_match_shap_tree_explainer(outcome):
    shap = pytest.importorskip("shap")
    result, features, _ = outcome
    model = result.models["lightgbm"]
    if model.calibrator.method != "platt":
        pytest.skip("compared on the Platt fit only")
    frame = model.layout.frame(features.head(50))
    reference = shap.TreeExplainer(model.estimator).shap_values(frame)
    reference = reference[1] if isinstance(reference, list) else reference
    ours = explain(model, features.head(50)).contributions / model.calibrator.slope
    assert np.allclose(ours, reference, atol=1e-6)


def test_long_format_keeps_values_and_one_row_per_feature(outcome):
    result, features, _ = outcome
    model = result.models[result.candidate]
    e = explain(model, features.head(3))
    rows = long_format(features["patient_id"].head(3).to_numpy(), features.head(3), e)
    assert len(rows) == 3 * len(model.layout.order)
    first = rows[rows["patient_id"] == features["patient_id"].iloc[0]]
    assert list(first["feature"]) == model.layout.order


def test_scoring_flags_out_of_distribution_patients_with_reasons(outcome):
    result, features, labels = outcome
    scoring = demo_bundle(result.models[result.candidate], result.replicates, result.domain)
    scoring.dictionary = [{"name": "bmi", "label": "body-mass index", "unit": "kg/m²"}]
    odd = features.head(4).copy()
    odd.loc[odd.index[0], "bmi"] = 79.0                    # beyond the training range
    odd.loc[odd.index[1], "route"] = "transdermal"        # never seen
    odd.loc[odd.index[2], odd.columns[1:]] = pd.NA       # nearly everything missing
    predictions, _ = score(scoring, odd)
    assert predictions["out_of_distribution"].tolist()[:3] == [1, 1, 1]
    assert "body-mass index 79 kg/m² is above the highest value" in predictions["warnings"].iloc[0]
    assert "never seen in training" in predictions["warnings"].iloc[1]
    assert "characteristics not recorded" in predictions["warnings"].iloc[2]


def test_interval_brackets_the_prediction_for_most_patients(outcome):
    result, features, _ = outcome
    if result.models[result.candidate].calibrator.method != "platt":
        pytest.skip("isotonic replicates on small out-of-bag sets are step functions")
    scoring = demo_bundle(result.models[result.candidate], result.replicates, result.domain)
    predictions, _ = score(scoring, features)
    inside = predictions["calibrated_probability"].between(predictions["interval_low"] - 0.05,
                                                           predictions["interval_high"] + 0.05)
    assert inside.mean() > 0.9
    assert (predictions["interval_high"] >= predictions["interval_low"]).all()
