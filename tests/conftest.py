from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.registries import Registries, load_registries
from pipeline.simulation import SimulatedCohort, simulate_cohort

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def registries() -> Registries:
    return load_registries(REPO / "configs")


@pytest.fixture(scope="session")
def small_cohort() -> SimulatedCohort:
    return simulate_cohort(n_patients=400, n_sites=3, seed=7)
