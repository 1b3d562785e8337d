from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.core.registries import Registries, load_registries
from pipeline.simulation import SimulatedCohort, simulate_cohort

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _private_tracking_store(tmp_path_factory):
    """Commands that look a model up in MLflow (score and explain check it was evaluated) use a
    store of the test session, never the project's own mlflow.db."""
    if "MLFLOW_TRACKING_URI" in os.environ:
        yield
        return
    folder = tmp_path_factory.mktemp("tracking-store")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def registries() -> Registries:
    return load_registries(REPO / "configs")


@pytest.fixture(scope="session")
def small_cohort() -> SimulatedCohort:
    return simulate_cohort(n_patients=400, n_sites=3, seed=7)
