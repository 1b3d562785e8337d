"""The committed demo cohort validates with zero quarantine; a messy cohort shows quarantine
working and reconciling, deterministically."""
from __future__ import annotations

import pandas as pd
import pytest

from pipeline.core.contract import contract_tables
from pipeline.core.schemas import contract_schemas
from pipeline.simulation import simulate_cohort
from pipeline.simulation.messy import as_text, make_messy
from pipeline.validation.deid import deidentification_gate
from pipeline.validation.quarantine import validate_tables
from pipeline.validation.reading import RawTable, read_raw_tables


def _validate(raws, registries):
    tables = contract_tables(registries)
    deidentification_gate(raws, tables)
    return validate_tables(raws, tables, contract_schemas(registries))


def test_demo_cohort_passes_with_zero_quarantine(repo, registries):
    tables = contract_tables(registries)
    required = {name: t.required for name, t in tables.items()}
    raws = read_raw_tables(repo / "data" / "raw" / "demo", required)
    outcomes = _validate(raws, registries)
    for name, outcome in outcomes.items():
        assert len(outcome.quarantined) == 0, (name, outcome.failures.head())
        assert len(outcome.passed) == outcome.rows_in > 0


@pytest.fixture(scope="module")
def messy(registries):
    cohort = simulate_cohort(n_patients=300, n_sites=3, seed=5)
    scale_top = {k: i.max for k, i in registries.instruments.items()}
    return cohort, make_messy(cohort.tables, seed=5, instrument_max=scale_top)


def test_messy_cohort_is_quarantined_and_reconciles(messy, registries):
    _, tables = messy
    raws = {name: RawTable(name, f"{name}.csv", frame) for name, frame in tables.items()}
    outcomes = _validate(raws, registries)  # the gate passes: no identifiers were added
    checks = set()
    for name, outcome in outcomes.items():
        assert len(outcome.passed) + len(outcome.quarantined) == len(tables[name]), name
        assert 0 < outcome.quarantined_fraction < 0.2, name
        checks |= set(outcome.failures["check"])
    assert {"not_a_number", "missing_marker", "required_value_missing", "duplicate_patient_id",
            "orphan_patient", "conflicting_scores", "duplicate_row", "parent_patient_rejected",
            "no_day0_session", "out_of_range_for_instrument"} <= checks


def test_messy_is_deterministic_and_leaves_good_rows_as_written(messy, registries):
    cohort, tables = messy
    again = make_messy(cohort.tables, seed=5,
                       instrument_max={k: i.max for k, i in registries.instruments.items()})
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], again[name])
    clean = as_text(cohort.tables["patients"])
    untouched = tables["patients"].merge(clean, how="inner")
    assert len(untouched) > 0.9 * len(clean)
