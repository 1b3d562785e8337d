from __future__ import annotations

from pathlib import Path

import mlflow
import pytest


def fresh_store(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite MLflow store in `folder`, set up as tests/model/test_tracking.py does."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID and keeps a module global: setenv then
    # delenv records the original state, so teardown restores both.
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.chdir(folder)  # artifacts (./mlruns) stay in the folder
    mlflow.set_tracking_uri(uri)
    return folder
