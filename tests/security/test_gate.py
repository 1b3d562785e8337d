"""The de-identification gate, run through the real `txresponse validate` command: identifiers
hidden inside longer values, in labels, covariates, number columns and column names, stop the
stage with exit 20, and the identifier appears nowhere: not on stdout or stderr, not in any
file under the output or report folders. Ordinary data (the demo cohort) still passes.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from pipeline.core.contract import contract_tables
from pipeline.core.registries import load_registries
from pipeline.simulation import simulate_cohort
from pipeline.validation.deid import find_identifiers
from pipeline.validation.errors import ExitCode
from pipeline.validation.reading import RawTable
from tests.property.cohorts import SITE_LABELS
from tests.validation.conftest import GOOD, REPO, permissive_params, write_raw

TXRESPONSE = Path(sys.executable).parent / "txresponse"


@dataclass
class Cli:
    code: int
    stdout: str
    stderr: str
    folders: tuple[Path, ...]  # every folder the command was told to write into

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def validate(tmp_path: Path, raw: Path) -> Cli:
    """`txresponse validate` in a separate process, from a folder that is not the project."""
    out, report = tmp_path / "out", tmp_path / "report"
    done = subprocess.run(
        [str(TXRESPONSE), "validate", "--raw", str(raw), "--out", str(out),
         "--report", str(report), "--params", str(permissive_params(tmp_path)),
         "--configs", str(REPO / "configs")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "COLUMNS": "200"})
    return Cli(done.returncode, done.stdout, done.stderr, (out, report))


def _squeezed(text: str) -> str:
    """Text without white space, so that a value wrapped across console lines is still found."""
    return re.sub(r"\s+", "", text)


def assert_nowhere(run: Cli, secret: str) -> None:
    """`secret` is in neither output stream nor in any file written under the output folders."""
    assert _squeezed(secret) not in _squeezed(run.stdout), run.stdout
    assert _squeezed(secret) not in _squeezed(run.stderr), run.stderr
    for folder in run.folders:
        for path in (p for p in folder.rglob("*") if p.is_file()) if folder.exists() else ():
            data = path.read_bytes()
            assert secret.encode() not in data, path
            assert _squeezed(secret).encode() not in re.sub(rb"\s+", b"", data), path


def _refused(run: Cli, secret: str, *phrases: str) -> None:
    assert run.code == ExitCode.IDENTIFIERS_FOUND, run.text
    assert "Traceback" not in run.stderr, run.stderr
    for phrase in phrases:
        assert phrase in run.text, run.text
    assert_nowhere(run, secret)


def _patients_with(column: str, value: str) -> str:
    """GOOD's patients with one more column; patient pt-a holds `value` there."""
    rows = GOOD["patients"].splitlines()
    header, first, rest = rows[0], rows[1], rows[2:]
    quoted = '"' + value.replace('"', '""') + '"'
    return "\n".join([f"{header},{column}", f"{first},{quoted}",
                      *(f"{row}," for row in rest)]) + "\n"


def _with_site(value: str) -> str:
    return GOOD["patients"].replace("pt-a,site_01,", f'pt-a,"{value}",')


# (case, column, value written there, the identifying part that must never be echoed)
IN_LABELS = [
    ("ssn_inside_a_site_label", "site", "site_123-45-6789", "123-45-6789"),
    ("ssn_after_ssn_without_separators", "site", "ssn123456789", "123456789"),
    ("phone_as_a_10_digit_run", "site", "6175550123", "6175550123"),
    ("phone_with_separators_inside_a_token", "site", "clinic_617-555-0123", "617-555-0123"),
    ("mrn_after_mrn", "site", "mrn_0012345", "0012345"),
    ("mrn_like_long_digit_run", "site", "ward0012345678", "0012345678"),
    ("email_inside_a_token", "site", "site_jane.doe@example.org", "jane.doe@example.org"),
    ("url_without_scheme", "site", "//intranet.example/p/4711", "intranet.example/p/4711"),
    ("url_with_scheme_inside_a_token", "site", "site_ftp://intranet/x", "intranet/x"),
    ("compact_date", "site", "site_20240305", "20240305"),
    ("date_inside_a_token", "site", "site_2024-03-05", "2024-03-05"),
    ("ssn_in_a_categorical_covariate", "employment", "employed_123-45-6789", "123-45-6789"),
    ("compact_date_in_a_categorical_covariate", "employment", "retired20240305", "20240305"),
    ("phone_in_a_categorical_covariate", "employment", "employed6175550123", "6175550123"),
]


@pytest.mark.parametrize("column, value, secret", [c[1:] for c in IN_LABELS],
                         ids=[c[0] for c in IN_LABELS])
def test_identifier_inside_a_label_is_refused_and_never_echoed(tmp_path, column, value, secret):
    patients = _with_site(value) if column == "site" else _patients_with(column, value)
    run = validate(tmp_path, write_raw(tmp_path / "raw", patients=patients))
    _refused(run, secret, f"column '{column}'", "look like")


def test_ssn_stored_as_a_number_is_refused(tmp_path):
    patients = GOOD["patients"].replace("pt-a,site_01,34,female,24.5",
                                        "pt-a,site_01,34,female,123456789")
    run = validate(tmp_path, write_raw(tmp_path / "raw", patients=patients))
    _refused(run, "123456789", "column 'bmi'")


def test_compact_date_in_the_day_column_is_refused(tmp_path):
    assessments = GOOD["assessments"].replace("pt-a,14,madrs", "pt-a,20240305,madrs")
    run = validate(tmp_path, write_raw(tmp_path / "raw", assessments=assessments))
    _refused(run, "20240305", "column 'day'", "calendar dates")


def test_compact_date_inside_a_patient_id_is_refused(tmp_path):
    raw = write_raw(tmp_path / "raw", **{name: GOOD[name].replace("pt-a", "pt-20240305")
                                         for name in GOOD})
    _refused(validate(tmp_path, raw), "20240305", "column 'patient_id'")


NAMES = [
    ("ssn", "123-45-6789"),
    ("email", "jane.doe@example.org"),
    ("mrn", "mrn_0012345678"),
]


@pytest.mark.parametrize("name", [n for _, n in NAMES], ids=[i for i, _ in NAMES])
def test_a_column_named_like_an_identifier_is_refused_by_position(tmp_path, name):
    patients = "patient_id,site,{}\npt-a,site_01,1\npt-b,site_02,0\n".format(name)
    run = validate(tmp_path, write_raw(tmp_path / "raw", patients=patients))
    _refused(run, name, "column 3", "looks like an identifier")


def test_an_identifying_column_name_is_not_echoed_even_when_its_values_are_refused(tmp_path):
    patients = "patient_id,site,jane.doe@example.org\npt-a,site_01,1990-01-02\npt-b,site_02,\n"
    run = validate(tmp_path, write_raw(tmp_path / "raw", patients=patients))
    _refused(run, "jane.doe@example.org", "column 3", "calendar dates")
    assert_nowhere(run, "1990-01-02")


def test_the_demo_cohort_passes_the_gate(tmp_path):
    run = validate(tmp_path, REPO / "data" / "raw" / "demo")
    assert run.code == 0, run.text
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("seed", [11, 12])
def test_simulated_cohorts_raise_no_finding(seed):
    """No false positives on the simulator's ids, site labels, doses, scores and values."""
    tables = contract_tables(load_registries(REPO / "configs"))
    cohort = simulate_cohort(n_patients=1500, n_sites=8, seed=seed, site_seed=seed)
    for name, frame in cohort.tables.items():
        text = frame.astype("string").fillna("").astype(str)
        assert find_identifiers(RawTable(name, f"{name}.csv", text), tables[name]) == [], name


def test_the_test_suites_site_labels_raise_no_finding():
    tables = contract_tables(load_registries(REPO / "configs"))
    labels = [label for style in SITE_LABELS.values() for label in style]
    frame = pd.DataFrame({"patient_id": [f"pt-{i:04d}" for i in range(len(labels))],
                          "site": labels})
    assert find_identifiers(RawTable("patients", "patients.csv", frame),
                            tables["patients"]) == []
