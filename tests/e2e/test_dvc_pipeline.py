"""The real pipeline under real DVC, in a temporary git repository.

Slow (a few DVC invocations); CI runs it with everything else.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tests.e2e.project import BIN, copy_project, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory, repo):
    """The whole pipeline, reproduced by real DVC in a fresh copy of the repository."""
    root = tmp_path_factory.mktemp("project")
    env = copy_project(repo, root)
    run([str(BIN / "dvc"), "repro"], root, env)
    return root, env


def test_repro_builds_validated_tables_features_and_labels(project):
    root, _ = project
    report = json.loads((root / "reports" / "validation" / "report.json").read_text())
    assert report  # the validation report exists and is JSON
    features = pd.read_parquet(root / "data" / "features" / "features.parquet")
    labels = pd.read_parquet(root / "data" / "features" / "labels.parquet")
    assert len(features) == len(labels) == 2000
    facts = json.loads((root / "reports" / "features.json").read_text())
    assert facts["labelled"] + facts["unlabelled"] == 2000
    assert 0.4 < facts["label_prevalence"] < 0.6
    assert (root / "reports" / "feature_dictionary.md").read_text().count("| `") == \
        features.shape[1] - 1


def _stale_stages(root, env) -> set[str]:
    status = json.loads(run([str(BIN / "dvc"), "status", "--json"], root, env).stdout or "{}")
    return set(status)


def test_changing_the_target_reruns_only_what_reads_it(project):
    root, env = project
    assert _stale_stages(root, env) == set()
    params_path = root / "configs" / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    params["target"]["definition"] = "remission"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        stale = _stale_stages(root, env)
        assert "features" in stale
        assert "validate" not in stale
    finally:
        params_path.write_text(original)


def test_changing_a_report_parameter_reruns_only_the_report(project):
    # The timing side (under 10 % of the full pipeline) is measured in benchmarks/incremental.py.
    root, env = project
    assert _stale_stages(root, env) == set()
    params_path = root / "configs" / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    params["report"]["max_patients"] = params["report"]["max_patients"] + 7
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        assert _stale_stages(root, env) == {"report"}
    finally:
        params_path.write_text(original)


def test_repro_trains_evaluates_and_registers_a_candidate(project):
    root, _ = project
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    for key in ("auroc", "auroc_ci", "auprc", "brier", "scaled_brier", "calibration_intercept",
                "calibration_slope", "ici", "ece", "n_test", "prevalence"):
        assert key in metrics, key
    assert metrics["auroc_ci"][0] < metrics["auroc"] < metrics["auroc_ci"][1]
    assert 0.55 < metrics["auroc"] < 0.85
    for curve in ("roc", "calibration", "decision"):
        assert (root / "reports" / "plots" / curve / "candidate_calibrated.csv").exists()
    assert (root / "reports" / "figures" / "reliability.png").stat().st_size > 10_000

    from mlflow import MlflowClient

    run_ref = json.loads((root / "artifacts" / "model" / "mlflow_run.json").read_text())
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    run = client.get_run(run_ref["run_id"])
    assert "candidate_calibrated.auroc" in run.data.metrics
    version = client.get_model_version_by_alias(run_ref["registered_model"], "candidate")
    assert version.run_id == run_ref["run_id"]


def test_the_deployed_model_never_scores_the_patients_it_is_evaluated_on(project):
    """Default strategy (cross-validation): the deployed model learned from every labelled
    patient, so every evaluated prediction is out-of-fold, never the deployed model's."""
    import numpy as np

    from models.artifact import ResponseModel

    root, _ = project
    split = pd.read_parquet(root / "artifacts" / "model" / "split.parquet")
    labels = pd.read_parquet(root / "data" / "features" / "labels.parquet")
    assert set(split["patient_id"]) == set(labels.loc[labels["label"].notna(), "patient_id"])
    evaluated = pd.read_csv(root / "reports" / "test_predictions.csv")
    out_of_fold = pd.read_parquet(root / "artifacts" / "model" / "out_of_sample.parquet")
    assert set(evaluated["patient_id"]) == set(split["patient_id"])
    merged = evaluated.merge(out_of_fold, on="patient_id", suffixes=("", "_oof"))
    np.testing.assert_allclose(merged["candidate_calibrated"],
                               merged["candidate_calibrated_oof"], atol=1e-6)
    deployed = ResponseModel.load(root / "artifacts" / "model" / "candidate")
    features = pd.read_parquet(root / "data" / "features" / "features.parquet")
    own = deployed.predict_proba(features.set_index("patient_id").loc[merged["patient_id"]]
                                 .reset_index())
    assert np.abs(own - merged["candidate_calibrated"].to_numpy()).mean() > 0.005
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    assert metrics["validation"]["strategy"] == "cross_validation"
    assert "cross-validation of the whole development procedure" in metrics["model"]["split"]


def test_with_three_or_more_sites_each_site_is_left_out_and_pooled(project):
    root, _ = project
    details = json.loads((root / "reports" / "evaluation.json").read_text())
    sites = details["by_site"]["sites"]
    assert [row["site"] for row in sites] == ["site_01", "site_02", "site_03", "site_04"]
    for row in sites:
        assert row["auroc_ci"][0] < row["auroc"] < row["auroc_ci"][1]
    pooled = details["by_site"]["pooled"]["auroc"]
    assert pooled["k"] == 4 and pooled["i2"] is not None
    low, high = pooled["prediction_interval"]
    assert low < pooled["estimate"] < high
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    assert metrics["by_site"]["pooled"]["auroc"]["estimate"] == pooled["estimate"]


def test_repro_explains_the_patients_the_model_did_not_learn_from(project):
    import numpy as np

    root, _ = project
    predictions = pd.read_csv(root / "reports" / "predictions.csv")
    split = pd.read_parquet(root / "artifacts" / "model" / "split.parquet")
    features = pd.read_parquet(root / "data" / "features" / "features.parquet")
    unlabelled = set(features["patient_id"]) - set(split["patient_id"])
    assert unlabelled and set(predictions["patient_id"]) == unlabelled
    explanations = pd.read_csv(root / "reports" / "explanations.csv")
    sums = explanations.groupby("patient_id")["contribution_logodds"].sum()
    indexed = predictions.set_index("patient_id")
    p = indexed["calibrated_probability"]
    gap = (indexed["base_logodds"] + sums - np.log(p / (1 - p))).abs()
    assert gap.max() < 1e-6
    reports = sorted((root / "reports" / "patients").glob("*.html"))
    assert len(reports) == 20 + 1  # max_patients reports and the index
