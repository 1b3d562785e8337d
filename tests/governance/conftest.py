"""A real MLflow SQLite store in tmp_path, and lightweight training runs: the metrics,
evaluation artifacts and test predictions the evaluate stage logs, plus a tiny registered
pyfunc model, so promotion reads exactly what it reads in production."""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

NAME = "txresponse-governance-test"

GOOD = {"auroc": 0.70, "auroc_ci_low": 0.65, "auroc_ci_high": 0.75, "auprc": 0.66,
        "auprc_ci_low": 0.61, "auprc_ci_high": 0.72, "brier": 0.22, "scaled_brier": 0.11,
        "log_loss": 0.63, "calibration_intercept": 0.03, "calibration_slope": 1.02,
        "ici": 0.012, "e50": 0.009, "e90": 0.024, "emax": 0.042, "ece": 0.039,
        "n_test": 400, "prevalence": 0.47}


with warnings.catch_warnings():
    # MLflow asks for type hints on predict; this stand-in model is never validated or served.
    warnings.simplefilter("ignore", UserWarning)

    class _Constant(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return np.full(len(model_input), 0.5)


def subgroups(**auroc_by_site: float) -> list[dict]:
    """Subgroup records as evaluation.json has them: sites with the given AUROC, plus one
    "too small" subgroup."""
    rows = [{"group": "site", "level": site, "n": 100, "events": 47, "non_events": 53,
             "prevalence": 0.47, "status": "ok", "auroc": value, "brier": 0.22,
             "calibration_intercept": 0.0, "calibration_slope": 1.0, "ici": 0.02}
            for site, value in auroc_by_site.items()]
    rows.append({"group": "route", "level": "im", "n": 12, "events": 4, "non_events": 8,
                 "prevalence": 0.33, "status": "too small", "auroc": None, "brier": None,
                 "calibration_intercept": None, "calibration_slope": None, "ici": None})
    return rows


def predictions(seed: int, n: int = 400, signal: float = 1.0,
                ids_seed: int = 0) -> pd.DataFrame:
    """Test predictions with pseudonymous ids: labels and ids fixed by `ids_seed`, the
    probabilities' dependence on the label by `signal` (0 = noise)."""
    ids_rng = np.random.default_rng(ids_seed)
    ids = [f"pt-{ids_seed:02d}{i:05d}x" for i in range(n)]
    y = ids_rng.binomial(1, 0.47, n)
    rng = np.random.default_rng(seed)
    logodds = signal * (y - 0.5) * 1.6 + rng.normal(0, 1, n)
    p = 1 / (1 + np.exp(-logodds))
    return pd.DataFrame({"patient_id": ids, "label": y, "candidate_calibrated": p.round(6),
                         "candidate_uncalibrated": p.round(6),
                         "comparator_calibrated": p.round(6)})


@pytest.fixture(scope="package")
def _package_store(tmp_path_factory):
    """One SQLite store for tests/governance: creating its tables takes seconds."""
    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        # mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID and keeps a module global: setenv
        # then delenv records the original state, so teardown restores both.
        patch.setenv("MLFLOW_EXPERIMENT_ID", "")
        patch.delenv("MLFLOW_EXPERIMENT_ID")
        patch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
        from models import tracking
        tracking.configure("governance-test", root=folder)
        yield folder
        mlflow.set_tracking_uri(None)


@pytest.fixture
def store(_package_store, tmp_path, monkeypatch, request):
    """The module's store, a fresh working folder, and a registered-model name of this test's
    own (so aliases and tags never leak between tests)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "NAME", f"governance-{request.node.name}"[:100])
    return tmp_path


TARGET = {"target.instrument": "madrs", "target.definition": "response",
          "target.min_reduction": "0.5"}


def log_run(folder: Path, metrics: dict | None = None, groups: list[dict] | None = None,
            table: pd.DataFrame | None = None,
            tags: dict | None = None) -> tuple[str, str]:
    """One training run as train + evaluate leave it (`tags` added to the usual ones, e.g. another
    target definition); (run id, registered version)."""
    metrics = GOOD | (metrics or {})
    groups = subgroups(site_01=0.70, site_02=0.68) if groups is None else groups
    table = predictions(seed=1) if table is None else table
    with mlflow.start_run() as run:
        mlflow.log_params({"seed": 1, "candidate": "lightgbm", "hp.num_leaves": 4})
        mlflow.log_metrics({f"candidate_calibrated.{k}": v for k, v in metrics.items()})
        mlflow.set_tags({"git_commit": "abc123", "data_digest": "d" * 32,
                         "features_digest": "f" * 32, "raw_dir": "data/raw/demo"}
                        | TARGET | (tags or {}))
        evaluation = folder / f"eval-{run.info.run_id}"
        evaluation.mkdir()
        (evaluation / "evaluation.json").write_text(json.dumps(
            {"thresholds": [], "subgroups": groups}), encoding="utf-8")
        table.to_csv(evaluation / "test_predictions.csv", index=False)
        mlflow.log_artifacts(str(evaluation), "evaluation")
        info = mlflow.pyfunc.log_model(name="response_model", python_model=_Constant(),
                                       pip_requirements=["mlflow"],
                                       registered_model_name=model_name())
    return run.info.run_id, str(info.registered_model_version)


def model_name() -> str:
    """This test's registered model (set by the `store` fixture)."""
    return sys.modules[__name__].NAME


def champion() -> str | None:
    try:
        return str(MlflowClient().get_model_version_by_alias(model_name(), "champion").version)
    except mlflow.exceptions.MlflowException:
        return None


def version_tags(version: str) -> dict[str, str]:
    return MlflowClient().get_model_version(model_name(), version).tags
