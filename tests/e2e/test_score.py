"""`txresponse score` on new patients with baseline data only, and the MLflow model served
over HTTP on 127.0.0.1."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.bundle import ModelBundle
from models.split import split_patients
from models.training import train
from pipeline.cli import app
from pipeline.simulation import simulate_cohort
from tests.support import demo_bundle
from tests.model.test_training import cohort  # noqa: F401 - shared fixture

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, cohort):  # noqa: F811
    features, labels, sites = cohort
    split = split_patients(labels, sites, 0.25, seed=3)
    outcome = train(features, labels, split, model="lightgbm", calibrator="platt", cv_folds=3,
                    search_budget=2, seed=5, uncertainty_replicates=3)
    folder = tmp_path_factory.mktemp("model")
    demo_bundle(outcome.models[outcome.candidate], outcome.replicates,
                outcome.domain).save(folder / "candidate")
    (folder / "mlflow_run.json").write_text(json.dumps(
        {"run_id": "local-test", "registered_model": "txresponse-response", "version": "0"}))
    return folder


@pytest.fixture(scope="module")
def new_patients(tmp_path_factory):
    """A fresh cohort of the same clinics with every record after day 0 removed."""
    folder = tmp_path_factory.mktemp("new")
    cohort_ = simulate_cohort(n_patients=120, n_sites=3, seed=99, site_seed=11)
    tables = dict(cohort_.tables)
    tables["assessments"] = tables["assessments"].query("day <= 0")
    tables["biomarkers"] = tables["biomarkers"].query("day <= 0")
    tables["sessions"] = tables["sessions"].query("day == 0")
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _digest(folder: Path) -> str:
    h = hashlib.md5()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def test_score_writes_explained_predictions_and_reports_without_retraining(
        model_dir, new_patients, tmp_path, repo):
    before = _digest(model_dir)
    result = runner.invoke(app, ["score", "--data", str(new_patients), "--out", str(tmp_path),
                                 "--model-dir", str(model_dir), "--max-reports", "10",
                                 "--params", str(repo / "configs" / "params.yaml"),
                                 "--configs", str(repo / "configs"), "--allow-unevaluated"])
    assert result.exit_code == 0, result.output
    assert _digest(model_dir) == before  # never retrains or rewrites the model
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert len(predictions) == 120
    assert predictions["label"].isna().all()  # no endpoint for new patients
    explanations = pd.read_csv(tmp_path / "explanations.csv")
    sums = explanations.groupby("patient_id")["contribution_logodds"].sum()
    reached = predictions.set_index("patient_id")["base_logodds"] + sums
    p = predictions.set_index("patient_id")["calibrated_probability"]
    assert np.abs(reached - np.log(p / (1 - p))).max() < 1e-6
    model = ModelBundle.load(model_dir / "candidate").model
    assert len(list((tmp_path / "patients").glob("*.html"))) == 10 + 1  # reports + index
    assert model.classifier == "lightgbm"


def test_score_refuses_identifiers_before_writing(model_dir, new_patients, tmp_path, repo):
    bad = tmp_path / "bad"
    bad.mkdir()
    for file in new_patients.iterdir():
        (bad / file.name).write_bytes(file.read_bytes())
    patients = pd.read_csv(bad / "patients.csv")
    patients["email"] = "someone@example.org"
    patients.to_csv(bad / "patients.csv", index=False)
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", "--data", str(bad), "--out", str(out),
                                 "--model-dir", str(model_dir),
                                 "--params", str(repo / "configs" / "params.yaml"),
                                 "--configs", str(repo / "configs"), "--allow-unevaluated"])
    assert result.exit_code != 0
    assert "someone@example.org" not in result.output
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_served_mlflow_model_returns_calibrated_probabilities(model_dir, cohort, tmp_path,  # noqa: F811
                                                               monkeypatch):
    import mlflow

    from models import tracking
    from models.registration import register_evaluated

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracking.configure("serve-test", root=tmp_path)
    scoring = ModelBundle.load(model_dir / "candidate")
    with mlflow.start_run():
        model_uri = tracking.log_response_model(scoring.model, model_dir / "candidate")
        run_id = mlflow.active_run().info.run_id
    register_evaluated(mlflow.MlflowClient(), {"registered_model": "served-model",
                                               "model_uri": model_uri, "run_id": run_id}, {})
    features, _, _ = cohort
    sample = features.head(5)
    port = _free_port()
    # The server execs `uvicorn` from PATH: the venv's bin must be on it.
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m",
         "models:/served-model@candidate", "--env-manager", "local", "--host", "127.0.0.1",
         "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(server.stderr.read().decode()[-2000:])
                time.sleep(1)
        else:
            pytest.fail("mlflow models serve did not answer /ping within 90 s")
        from models.mlflow_model import as_model_input
        payload = json.dumps({"dataframe_split": json.loads(
            as_model_input(sample).to_json(orient="split", index=False))}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=payload,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    finally:
        server.terminate()
        server.wait(timeout=30)
    served = pd.DataFrame(answer["predictions"])["calibrated_probability"].to_numpy()
    assert np.allclose(served, scoring.model.predict_proba(sample), atol=1e-9)


def test_score_uses_the_models_feature_settings_not_changed_params(model_dir, new_patients,
                                                                   tmp_path, repo):
    import yaml

    # Train-time settings travel with the model artifact (models/bundle.py)...
    folder = model_dir
    # ...so a later change of prediction day in params does not leak into scoring.
    params = yaml.safe_load((repo / "configs" / "params.yaml").read_text())
    params["features"]["prediction_day"] = 14
    changed = tmp_path / "params.yaml"
    changed.write_text(yaml.safe_dump(params))

    def scored(params_file, out):
        result = runner.invoke(app, ["score", "--data", str(new_patients), "--out", str(out),
                                     "--model-dir", str(folder), "--max-reports", "0",
                                     "--params", str(params_file),
                                     "--configs", str(repo / "configs"), "--allow-unevaluated"])
        assert result.exit_code == 0, result.output
        return pd.read_csv(out / "predictions.csv"), result.output

    same, _ = scored(repo / "configs" / "params.yaml", tmp_path / "a")
    other, output = scored(changed, tmp_path / "b")
    assert "the model's own target and feature settings are used" in " ".join(output.split())
    pd.testing.assert_frame_equal(same, other)


def _score(data: Path, out: Path, model_dir: Path, repo: Path, *extra: str):
    return runner.invoke(app, ["score", "--data", str(data), "--out", str(out),
                               "--model-dir", str(model_dir),
                               "--params", str(repo / "configs" / "params.yaml"),
                               "--configs", str(repo / "configs"), "--allow-unevaluated", *extra])


@pytest.fixture(scope="module")
def messy_patients(tmp_path_factory, new_patients):
    """The new patients with realistic faults, so that some rows are quarantined."""
    from pipeline.core.registries import load_registries
    from pipeline.simulation.messy import make_messy

    repo = Path(__file__).resolve().parents[2]
    instruments = load_registries(repo / "configs").instruments
    typed = {path.stem: pd.read_csv(path) for path in new_patients.glob("*.csv")}
    messy = make_messy(typed, seed=4, instrument_max={k: i.max for k, i in instruments.items()})
    folder = tmp_path_factory.mktemp("messy-new")
    for name, table in messy.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_chunk_size_and_workers_do_not_change_a_single_byte(model_dir, messy_patients,
                                                            tmp_path, repo):
    whole, chunked, parallel = tmp_path / "whole", tmp_path / "chunked", tmp_path / "parallel"
    assert _score(messy_patients, whole, model_dir, repo).exit_code == 0
    result = _score(messy_patients, chunked, model_dir, repo, "--chunk-patients", "17")
    assert result.exit_code == 0, result.output
    result = _score(messy_patients, parallel, model_dir, repo, "--chunk-patients", "17",
                    "--workers", "2")
    assert result.exit_code == 0, result.output
    assert json.loads((chunked / "score_summary.json").read_text())["chunks"] > 5
    meta = json.loads((chunked / "explanations_meta.json").read_text())
    first = pd.read_csv(whole / "predictions.csv").iloc[0]
    assert meta["base_probability"] == pytest.approx(first["base_probability"], abs=1e-12)
    for name in ("predictions.csv", "explanations.csv"):
        assert (chunked / name).read_bytes() == (whole / name).read_bytes()
        assert (parallel / name).read_bytes() == (whole / name).read_bytes()
    for table in (whole / "quarantine").glob("*.csv"):
        rows = pd.read_csv(table, dtype=str).sort_values("source_line", key=lambda s: s.astype(int))
        other = pd.read_csv(chunked / "quarantine" / table.name, dtype=str)
        other = other.sort_values("source_line", key=lambda s: s.astype(int))
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), other.reset_index(drop=True))


def test_every_row_read_is_scored_or_quarantined_with_a_reason(model_dir, messy_patients,
                                                              tmp_path, repo):
    result = _score(messy_patients, tmp_path, model_dir, repo, "--chunk-patients", "25")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "score_summary.json").read_text())
    assert sum(summary["quarantined"].values()) > 0
    for name, rows in summary["rows_read"].items():
        source = pd.read_csv(messy_patients / f"{name}.csv", dtype=str, keep_default_na=False)
        assert rows == summary["rows_in"][name] == len(source)
        path = tmp_path / "quarantine" / f"{name}.csv"
        quarantined = pd.read_csv(path, dtype=str) if path.exists() else pd.DataFrame()
        assert len(quarantined) == summary["quarantined"][name]
        if len(quarantined):
            assert quarantined["reason"].str.len().gt(0).all()
    predictions = pd.read_csv(tmp_path / "predictions.csv", dtype={"patient_id": str})
    assert len(predictions) == summary["patients"]
    assert summary["patients"] + summary["quarantined"]["patients"] == \
        summary["rows_in"]["patients"]


def test_reports_only_for_the_patients_asked_for(model_dir, new_patients, tmp_path, repo):
    ids = pd.read_csv(new_patients / "patients.csv", dtype=str)["patient_id"]
    asked = [ids.iloc[90], ids.iloc[3]]
    result = _score(new_patients, tmp_path / "out", model_dir, repo, "--chunk-patients", "30",
                    "--patients", ",".join(asked))
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "out" / "patients").glob("*.html"))
    assert len(written) == 3 and "index.html" in written
    index = (tmp_path / "out" / "patients" / "index.html").read_text()
    assert asked[0] in index and asked[1] in index
    refused = _score(new_patients, tmp_path / "typo", model_dir, repo,
                     "--patients", "no-such-patient")
    assert refused.exit_code != 0
    assert not (tmp_path / "typo" / "predictions.csv").exists()  # refused before scoring


def test_parquet_output_holds_the_same_values_as_csv(model_dir, new_patients, tmp_path, repo):
    assert _score(new_patients, tmp_path / "csv", model_dir, repo,
                  "--max-reports", "0").exit_code == 0
    result = _score(new_patients, tmp_path / "pq", model_dir, repo, "--format", "parquet",
                    "--chunk-patients", "50", "--max-reports", "0")
    assert result.exit_code == 0, result.output
    for name in ("predictions", "explanations"):
        from_csv = pd.read_csv(tmp_path / "csv" / f"{name}.csv", dtype={"patient_id": str})
        from_parquet = pd.read_parquet(tmp_path / "pq" / f"{name}.parquet")
        assert len(from_csv) == len(from_parquet)
        for column in ("calibrated_probability", "contribution_logodds"):
            if column in from_csv:
                assert np.allclose(from_csv[column], from_parquet[column], rtol=0, atol=1e-15)
        assert (from_csv["patient_id"] == from_parquet["patient_id"]).all()


def test_replicates_share_one_model_matrix_without_changing_a_prediction(model_dir,
                                                                        new_patients, repo):
    from features.build import compute_features
    from features.catalog import build_registry
    from features.records import known_on
    from models.calibration import logit
    from models.scoring import replicate_logodds
    from pipeline.core.params import load_params
    from pipeline.core.registries import load_registries
    from pipeline.validation.run import validate_folder

    registries = load_registries(repo / "configs")
    params = load_params(repo / "configs" / "params.yaml")
    outcomes, _ = validate_folder(new_patients, registries, 1.0)
    registry = build_registry(registries, params.target.instrument,
                              tuple(params.target.baseline_window),
                              params.features.biomarker_lookback_days)
    features = compute_features(known_on({n: o.passed for n, o in outcomes.items()}, 0),
                                registry)
    replicates = ModelBundle.load(model_dir / "candidate").replicates
    one_by_one = np.vstack([logit(r.predict_proba(features)) for r in replicates])
    assert np.abs(replicate_logodds(replicates, features) - one_by_one).max() < 1e-12
