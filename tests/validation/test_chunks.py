"""Validating a folder chunk by chunk gives exactly what validating it whole gives."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.core.contract import contract_tables
from pipeline.core.registries import load_registries
from pipeline.core.schemas import contract_schemas
from pipeline.core.tables import write_csv
from pipeline.simulation import simulate_cohort
from pipeline.simulation.messy import make_messy
from pipeline.validation.chunks import partition
from pipeline.validation.errors import ExitCode, StructuralError
from pipeline.validation.quarantine import validate_tables
from pipeline.validation.run import validate_folder
from tests.validation.conftest import REPO, write_raw

REGISTRIES = load_registries(REPO / "configs")
TABLES = contract_tables(REGISTRIES)


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("messy")
    cohort = simulate_cohort(n_patients=300, n_sites=3, seed=5, site_seed=6)
    scale_top = {key: item.max for key, item in REGISTRIES.instruments.items()}
    for name, table in make_messy(cohort.tables, seed=5, instrument_max=scale_top).items():
        write_csv(table, folder / f"{name}.csv")
    return folder


def _chunked(folder: Path, scratch: Path, chunk_patients: int, read_rows: int):
    split = partition(folder, TABLES, scratch, chunk_patients, read_rows=read_rows)
    schemas = contract_schemas(REGISTRIES)
    return split, [validate_tables(split.raw_tables(k), TABLES, schemas)
                   for k in range(split.n_chunks)]


@pytest.mark.parametrize("chunk_patients,read_rows", [(37, 250), (1000, 100_000)])
def test_chunks_quarantine_and_pass_exactly_the_rows_the_whole_folder_does(
        messy, tmp_path, chunk_patients, read_rows):
    whole, _ = validate_folder(messy, REGISTRIES, 1.0)
    split, chunks = _chunked(messy, tmp_path, chunk_patients, read_rows)
    assert split.n_chunks == -(-len(split.patient_keys) // chunk_patients)
    for name, outcome in whole.items():
        quarantined = pd.concat([c[name].quarantined for c in chunks])
        assert len(outcome.quarantined) > 0  # the messy cohort has faults in every table
        pd.testing.assert_frame_equal(
            quarantined.sort_values("source_line").reset_index(drop=True),
            outcome.quarantined.sort_values("source_line").reset_index(drop=True),
            check_dtype=False)  # an empty chunk adds object columns; the values must match
        passed = pd.concat([c[name].passed for c in chunks], ignore_index=True)
        assert len(passed) == len(outcome.passed)
        assert sum(c[name].rows_in for c in chunks) == outcome.rows_in == split.rows_in[name]
    patients = pd.concat([c["patients"].passed for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(patients, whole["patients"].passed)  # same order too


def test_an_identifier_in_the_last_piece_stops_the_split(messy, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for file in messy.iterdir():
        (bad / file.name).write_bytes(file.read_bytes())
    sessions = (bad / "sessions.csv").read_text().splitlines()
    sessions[-1] = sessions[-1].rsplit(",", 1)[0] + ",someone@example.org"
    (bad / "sessions.csv").write_text("\n".join(sessions) + "\n")
    with pytest.raises(StructuralError) as stopped:
        partition(bad, TABLES, tmp_path / "scratch", 50, read_rows=200)
    assert stopped.value.code == ExitCode.IDENTIFIERS_FOUND
    assert "someone@example.org" not in str(stopped.value)


def test_structural_problems_stop_the_split_as_they_stop_validate(tmp_path):
    raw = write_raw(tmp_path / "raw", sessions="patient_id,route,dose\npt-a,iv,0.5\n")
    with pytest.raises(StructuralError) as whole:
        validate_folder(raw, REGISTRIES, 1.0)
    with pytest.raises(StructuralError) as chunked:
        partition(raw, TABLES, tmp_path / "scratch", 1)
    assert chunked.value.code == whole.value.code == ExitCode.MISSING_COLUMN
    assert str(chunked.value) == str(whole.value)


def test_parquet_tables_split_like_csv(messy, tmp_path):
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    for file in messy.iterdir():
        text = pd.read_csv(file, dtype=str, keep_default_na=False)
        text.to_parquet(parquet / f"{file.stem}.parquet", index=False)
    _, from_csv = _chunked(messy, tmp_path / "a", 60, 400)
    _, from_parquet = _chunked(parquet, tmp_path / "b", 60, 400)
    for a, b in zip(from_csv, from_parquet):
        for name in a:
            pd.testing.assert_frame_equal(a[name].passed, b[name].passed)
            assert len(a[name].quarantined) == len(b[name].quarantined)
