"""The model artifact owns what it predicts, how its features are built and what they are called
(models/bundle.py, issue 15): changing configs/params.yaml afterwards cannot relabel it."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from models.bundle import ModelBundle, require_same_target
from models.layout import FeatureLayout
from pipeline.cli import app
from pipeline.core.errors import UserError
from tests.e2e.test_score import model_dir, new_patients  # noqa: F401 - shared fixtures
from tests.model.test_training import cohort  # noqa: F401 - used by model_dir

runner = CliRunner()


def test_a_response_model_scored_under_remission_params_still_says_response(
        model_dir, new_patients, tmp_path, repo):  # noqa: F811
    params = yaml.safe_load((repo / "configs" / "params.yaml").read_text())
    params["target"]["definition"] = "remission"
    changed = tmp_path / "params.yaml"
    changed.write_text(yaml.safe_dump(params))
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", "--data", str(new_patients), "--out", str(out),
                                 "--model-dir", str(model_dir), "--max-reports", "2",
                                 "--params", str(changed), "--configs", str(repo / "configs"),
                                 "--allow-unevaluated"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "target.definition" in said and "predicts response" in said
    meta = json.loads((out / "explanations_meta.json").read_text())
    assert meta["target"]["definition"] == "response"
    report = next(p for p in (out / "patients").glob("*.html") if p.name != "index.html")
    text = report.read_text()
    assert "chance of response" in text.lower()
    assert "chance of remission" not in text.lower()


def test_labels_for_another_target_are_refused(model_dir, tmp_path):  # noqa: F811
    target = ModelBundle.read_target(model_dir / "candidate")
    require_same_target(target, dict(target), "same")  # the same target passes
    with pytest.raises(UserError, match="definition is 'response' for the model"):
        require_same_target(target, {**target, "definition": "remission"}, "features")
    with pytest.raises(UserError, match="endpoint_window"):
        require_same_target(target, {**target, "endpoint_window": [14, 42]}, "features")


def test_explain_refuses_features_built_for_another_target(model_dir, tmp_path):  # noqa: F811
    features = tmp_path / "features"
    features.mkdir()
    target = ModelBundle.read_target(model_dir / "candidate")
    (features / "description.json").write_text(json.dumps(
        {"target": {**target, "definition": "remission"}, "feature_settings": {},
         "dictionary": []}))
    result = runner.invoke(app, ["explain", "--features", str(features), "--model",
                                 str(model_dir), "--out", str(tmp_path / "out"),
                                 "--allow-unevaluated"])
    assert result.exit_code == 2
    assert "another target" in result.output
    assert not (tmp_path / "out").exists()


def test_an_artifact_without_its_manifest_is_refused_with_a_message(model_dir, tmp_path):  # noqa: F811
    old = tmp_path / "old"
    shutil.copytree(model_dir / "candidate", old)
    (old / "bundle.json").unlink()
    with pytest.raises(UserError, match="older txresponse"):
        ModelBundle.load(old)
    manifest = json.loads((model_dir / "candidate" / "bundle.json").read_text())
    for broken in ({**manifest, "format_version": 1},
                   {**manifest, "target": {"definition": "response"}}):
        (old / "bundle.json").write_text(json.dumps(broken))
        with pytest.raises(UserError):
            ModelBundle.load(old)


def test_the_bundle_round_trips_everything_scoring_needs(model_dir):  # noqa: F811
    bundle = ModelBundle.load(model_dir / "candidate")
    assert bundle.target["definition"] == "response" and bundle.replicates
    assert bundle.domain is not None
    assert bundle.labels["baseline_madrs"] and bundle.feature_settings["prediction_day"] == 0


def test_declared_kinds_win_over_the_values():
    """A numeric feature holding only 0 and 1 in this cohort stays numeric (and keeps its
    splines); an undeclared one is still judged from its values."""
    frame = pd.DataFrame({"patient_id": ["a", "b", "c", "d"],
                          "prior_failed_trials": [0, 1, 1, 0],
                          "flag": [0, 1, 0, 1],
                          "route": ["iv", "intranasal", "iv", None]})
    layout = FeatureLayout.fit(frame, {"prior_failed_trials": "numeric"})
    assert layout.numeric == ["prior_failed_trials"]
    assert layout.binary == ["flag"]
    assert list(layout.categorical) == ["route"]
    guessed = FeatureLayout.fit(frame)
    assert guessed.binary == ["prior_failed_trials", "flag"]
    assert np.isfinite(layout.ranges["prior_failed_trials"]).all()
