"""Validate a folder of raw tables in memory: the sequence shared by the validate stage and
`txresponse score`, so new patients pass exactly the same gate and checks as training data."""
from __future__ import annotations

from pathlib import Path

from pipeline.core.contract import contract_tables
from pipeline.core.registries import Registries
from pipeline.core.schemas import contract_schemas
from pipeline.validation.deid import deidentification_gate
from pipeline.validation.quarantine import TableOutcome, validate_tables
from pipeline.validation.reading import read_raw_tables
from pipeline.validation.report import build_report
from pipeline.validation.structure import check_structure


def validate_folder(raw: Path, registries: Registries,
                    max_fraction: float) -> tuple[dict[str, TableOutcome], dict]:
    """(per-table outcomes, report summary). Raises `StructuralError` for a structural
    problem or an identifier, before anything could be written."""
    tables = contract_tables(registries)
    raws = read_raw_tables(raw, {name: t.required for name, t in tables.items()})
    deidentification_gate(raws, tables)
    check_structure(raws, tables)
    outcomes = validate_tables(raws, tables, contract_schemas(registries))
    return outcomes, build_report(outcomes, max_fraction)
