"""MLflow tracking against a real SQLite store in a temporary folder: a run with params, metrics,
nested runs, lineage and a registered pyfunc model, all read back through MlflowClient."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from models.artifact import ResponseModel
from models.calibration import fit_calibrator
from models.factory import make_classifier
from models.layout import FeatureLayout
from models.mlflow_model import OUTPUT, as_model_input
from models.registration import register_evaluated
from models.tracking import (configure, dvc_hashes, file_digest, git_commit, log_lineage,
                             log_response_model, nested_run, synthetic_example, tracking_uri,
                             version_tags)
from tests.support import demo_bundle

NAME = "txresponse-test"


def _features(n: int = 200, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """A hand-made feature table with the real table's dtypes and missing values."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    ids = ["pt-" + "".join(rng.choice(letters, 8)) for _ in range(n)]
    madrs = rng.integers(20, 50, n).astype(float)
    benzo = rng.integers(0, 2, n)
    route = rng.choice(["iv", "intranasal", "oral"], n)
    frame = pd.DataFrame({
        "patient_id": pd.array(ids, dtype="str"),
        "baseline_madrs": pd.array(madrs, dtype="Float64"),
        "bmi": pd.array(np.round(rng.normal(27, 4, n), 1), dtype="Float64"),
        "benzodiazepine_at_index": pd.array(benzo, dtype="Int64"),
        "family_history_aud": pd.array(rng.integers(0, 2, n), dtype="Int64"),
        "route": pd.array(route, dtype="str"),
    })
    frame.loc[::7, "bmi"] = pd.NA
    frame.loc[::5, "family_history_aud"] = pd.NA
    frame.loc[::11, "route"] = pd.NA
    logodds = 0.08 * (madrs - 35) - 0.9 * benzo + 0.4 * (route == "iv")
    labels = rng.binomial(1, 1 / (1 + np.exp(-logodds)))
    return frame, labels


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID and keeps a module global: setenv then
    # delenv records the variable's original state, so teardown restores both.
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.chdir(tmp_path)  # anything written relative to the cwd stays in tmp_path
    yield tmp_path
    mlflow.set_tracking_uri(None)  # it also exported MLFLOW_TRACKING_URI; monkeypatch restores


@pytest.fixture
def fitted(tmp_path) -> tuple[pd.DataFrame, ResponseModel, Path]:
    features, labels = _features()
    layout = FeatureLayout.fit(features)
    classifier = make_classifier("lightgbm", layout, seed=1, n_estimators=20)
    classifier.fit(layout.frame(features), labels)
    raw = classifier.predict_proba(layout.frame(features))[:, 1]
    model = ResponseModel("lightgbm", classifier, fit_calibrator("platt", labels, raw), layout,
                          {"n_estimators": 20})
    model_dir = tmp_path / "model"
    demo_bundle(model).save(model_dir)
    data = tmp_path / "data"
    data.mkdir()
    features.to_parquet(data / "features.parquet")
    pd.DataFrame({"patient_id": features["patient_id"], "label": labels}) \
        .to_parquet(data / "labels.parquet")
    return features, model, model_dir


def _text_of(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", errors="replace")
                     for p in folder.rglob("*") if p.is_file())


def test_run_is_recorded_and_model_registered(store, fitted):
    features, model, model_dir = fitted
    (store / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  features:\n    outs:\n    - path: data/features\n"
        "      hash: md5\n      md5: 0123456789abcdef0123456789abcdef.dir\n", encoding="utf-8")
    experiment_id = configure("ketamine-response", root=store)
    with mlflow.start_run() as run:
        mlflow.log_params({"train.seed": 1, "train.model": "lightgbm"})
        for name in ("lightgbm", "logistic"):
            with nested_run(name):
                mlflow.log_metric("cv_log_loss", 0.6)
        mlflow.log_metric("auroc", 0.71)
        log_lineage(features, store / "data/features.parquet", store / "data/labels.parquet",
                    "data/raw/demo", {"instrument": "madrs", "definition": "response"},
                    store / "dvc.lock")
        model_uri = log_response_model(model, model_dir)
    # Nothing is registered before evaluation (models/registration.py).
    assert MlflowClient().search_model_versions(f"name = '{NAME}'") == []
    run_ref = {"registered_model": NAME, "model_uri": model_uri, "run_id": run.info.run_id}
    version = register_evaluated(MlflowClient(), run_ref, version_tags(model))

    client = MlflowClient()
    recorded = client.get_run(run.info.run_id)
    assert recorded.info.experiment_id == experiment_id
    assert recorded.data.params == {"train.seed": "1", "train.model": "lightgbm"}
    assert recorded.data.metrics == {"auroc": 0.71}
    tags = recorded.data.tags
    assert tags["raw_dir"] == "data/raw/demo" and tags["target.instrument"] == "madrs"
    assert tags["dvc.features.data/features.md5"] == "0123456789abcdef0123456789abcdef.dir"
    assert tags["git_commit"] == "unknown"  # tmp_path is not a git repository
    assert len(tags["data_digest"]) == 32
    children = client.search_runs([experiment_id],
                                  f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert sorted(c.info.run_name for c in children) == ["lightgbm", "logistic"]

    (logged,) = recorded.inputs.dataset_inputs
    assert logged.dataset.digest == file_digest(store / "data/features.parquet")
    assert json.loads(logged.dataset.profile) == {"num_rows": 200, "num_elements": 1200}
    schema = json.loads(logged.dataset.schema)["mlflow_colspec"]
    assert [c["name"] for c in schema] == list(features.columns)

    # artifacts stay under the store's folder: the database's sibling mlruns/
    assert client.get_experiment(experiment_id).artifact_location == \
        (store / "mlruns").resolve().as_uri()
    assert not (store / "mlartifacts").exists()
    assert version.run_id == run.info.run_id and version.tags["classifier"] == "lightgbm"
    assert version.tags["txresponse.evaluated"] == "true"
    assert client.get_model_version_by_alias(NAME, "candidate").version == version.version

    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}@candidate")
    scored = loaded.predict(as_model_input(features))
    assert list(scored.columns) == [OUTPUT]
    np.testing.assert_allclose(scored[OUTPUT].to_numpy(), model.predict_proba(features),
                               rtol=0, atol=1e-12)

    # No patient identifier anywhere: run artifacts, model artifacts, the database itself.
    run_files = Path(client.download_artifacts(run.info.run_id, "", str(store / "dl_run")))
    model_files = Path(mlflow.artifacts.download_artifacts(f"models:/{NAME}@candidate",
                                                           dst_path=str(store / "dl_model")))
    stored = _text_of(run_files) + _text_of(model_files) + _text_of(store / "mlruns") \
        + (store / "mlflow.db").read_bytes().decode("utf-8", errors="replace") \
        + logged.dataset.schema + logged.dataset.profile
    assert "example-1" in stored  # the synthetic input example is there; real rows are not
    assert [pid for pid in features["patient_id"] if pid in stored] == []


def test_tracking_uri_env_wins_and_default_is_sqlite_under_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert tracking_uri(tmp_path) == "http://tracking.example:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking_uri(tmp_path) == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"


def test_git_commit_outside_git_and_dirty(tmp_path):
    assert git_commit(tmp_path) == "unknown"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "a.txt").write_text("1")
    subprocess.run([*git, "add", "a.txt"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "a"], cwd=tmp_path, check=True)
    commit = git_commit(tmp_path)
    assert len(commit) == 40
    (tmp_path / "untracked.txt").write_text("ignored")
    assert git_commit(tmp_path) == commit
    (tmp_path / "a.txt").write_text("2")
    assert git_commit(tmp_path) == commit + "+dirty"


def test_dvc_hashes_and_file_digest(tmp_path):
    lock = tmp_path / "dvc.lock"
    assert dvc_hashes(lock, "features") == {}
    lock.write_text("""schema: '2.0'
stages:
  features:
    cmd: txresponse features
    outs:
    - path: data/features
      hash: md5
      md5: e1ea3feb96df1b7d34c39edfd1b0bbaa.dir
    - path: reports/features.json
      hash: md5
      md5: 0e01b55bc0908b7dec03f17f3fad7367
""", encoding="utf-8")
    assert dvc_hashes(lock, "features") == {
        "data/features": "e1ea3feb96df1b7d34c39edfd1b0bbaa.dir",
        "reports/features.json": "0e01b55bc0908b7dec03f17f3fad7367"}
    assert dvc_hashes(lock, "train") == {}

    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.txt").write_text("b")
    (folder / "a.txt").write_text("a")
    before = file_digest(folder)
    assert len(before) == 32 and file_digest(folder / "a.txt") != before
    (folder / "a.txt").rename(folder / "c.txt")  # same contents, another name
    assert file_digest(folder) != before


def test_synthetic_example_is_nobodys_row():
    features, _ = _features(n=50)
    layout = FeatureLayout.fit(features)
    example = synthetic_example(layout, n=3)
    assert list(example.columns) == ["patient_id", *layout.order]
    assert example["patient_id"].tolist() == ["example-1", "example-2", "example-3"]
    low, high = layout.ranges["baseline_madrs"]
    assert example["baseline_madrs"].iloc[0] == round((low + high) / 2, 1)
    assert (example[layout.binary] == 0).all().all()
    assert example["route"].iloc[0] == layout.categorical["route"][0]
    assert not set(example["patient_id"]) & set(features["patient_id"])
    real_rows = set(map(tuple, features[layout.order].astype(object).itertuples(index=False)))
    assert not set(map(tuple, example[layout.order].astype(object).itertuples(index=False))) \
        & real_rows
