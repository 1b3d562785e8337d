from __future__ import annotations

import pandas as pd
import pytest

from features.build import compute_features
from features.catalog import build_registry
from features.records import known_on
from pipeline.core.schemas import contract_schemas


def typed(registries, **tables: list[dict]) -> dict[str, pd.DataFrame]:
    """Hand-written rows, typed exactly as the validate stage types them."""
    schemas = contract_schemas(registries)
    out = {}
    for name, rows in tables.items():
        frame = pd.DataFrame(rows)
        out[name] = schemas[name].validate(frame)
    return out


@pytest.fixture
def build(registries):
    def _build(tables, prediction_day=0, target="madrs", baseline_window=(-14, 0),
               biomarker_lookback_days=90, regs=None):
        regs = regs or registries
        registry = build_registry(regs, target, baseline_window, biomarker_lookback_days)
        return compute_features(known_on(tables, prediction_day), registry).set_index(
            "patient_id")
    return _build
