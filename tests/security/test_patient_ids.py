"""The patient-id rule (docs/data-contract.md, "Patient ids"): ids that could leave a folder,
break a file name or collide with another id are quarantined at validation, with their rows in
the other tables, and every id that passes is one the later stages can use as a file name."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.report.writer import safe_file_name
from pipeline.core.contract import (
    PATIENT_ID_PATTERN, breaks_id_rule, contract_tables, patient_key)
from pipeline.core.registries import load_registries
from pipeline.core.schemas import contract_schemas
from pipeline.simulation import simulate_cohort
from pipeline.validation.chunks import partition
from pipeline.validation.quarantine import validate_tables
from pipeline.validation.run import validate_folder
from tests.realdata import convert_btheb
from tests.validation.conftest import GOOD, REPO, permissive_params, write_raw

TXRESPONSE = Path(sys.executable).parent / "txresponse"
REGISTRIES = load_registries(REPO / "configs")

# Ids that validation accepted before the rule and that broke report writing, each with a
# marker that is unlikely to appear in any message by chance.
BAD_IDS = {
    "climbs_out": "../../x-climb",
    "slash": "qq/slash",
    "newline": "qq\nnewline",
    "nul": "qq\x00nul",
    "reserved": "index",
    "reserved_upper_case": "INDEX",
    "double_dot": "qq..dots",
    "leading_dot": ".qq-hidden",
    "space": "qq space",
    "accent": "qq-é",
    "too_long": "q" * 65,
}
CASE_TWINS = ("pt-Twin", "PT-TWIN")


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`txresponse validate` on GOOD plus one patient (with a rating and a session) per bad id
    and two patients whose ids differ only in case."""
    tmp = tmp_path_factory.mktemp("ids")
    ids = [*BAD_IDS.values(), *CASE_TWINS]
    patients = GOOD["patients"] + "".join(f"{_csv_cell(i)},site_01,40,male,25\n" for i in ids)
    assessments = GOOD["assessments"] + "".join(f"{_csv_cell(i)},0,madrs,30\n" for i in ids)
    sessions = GOOD["sessions"] + "".join(f"{_csv_cell(i)},0,iv,0.5,mg_per_kg\n" for i in ids)
    raw = write_raw(tmp / "raw", patients=patients, assessments=assessments, sessions=sessions)
    out, report = tmp / "out", tmp / "report"
    done = subprocess.run(
        [str(TXRESPONSE), "validate", "--raw", str(raw), "--out", str(out), "--report",
         str(report), "--params", str(permissive_params(tmp)), "--configs",
         str(REPO / "configs")],
        cwd=tmp, capture_output=True, text=True, timeout=600,
        env={**os.environ, "COLUMNS": "200"})
    return done, out, report


def _quarantine(out: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(out / "quarantine" / f"{table}.csv", dtype=str, keep_default_na=False)


def test_bad_ids_are_quarantined_citing_the_rule_and_the_row(run):
    done, out, _ = run
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    bad = _quarantine(out, "patients").set_index("patient_id")
    for case, value in BAD_IDS.items():
        assert value in bad.index, case
        assert "patient_id.invalid_patient_id" in bad.loc[value, "failed_checks"], case
        assert "patient-id rule" in bad.loc[value, "reason"], case
        if not case.startswith("reserved"):  # the rule itself names the reserved id
            assert value not in bad.loc[value, "reason"], case
    # The row is cited by its line in the file (GOOD has two patients after the header).
    assert int(bad.loc[BAD_IDS["climbs_out"], "source_line"]) == 4


def test_ids_equal_but_for_case_are_duplicates_and_every_copy_is_held_back(run):
    _, out, _ = run
    bad = _quarantine(out, "patients").set_index("patient_id")
    for twin in CASE_TWINS:
        assert bad.loc[twin, "failed_checks"] == "patient_id.duplicate_patient_id"
        assert "differ only in upper/lower case" in bad.loc[twin, "reason"]


def test_rows_of_refused_patients_follow_them_and_counts_reconcile(run):
    _, out, report = run
    refused = {*BAD_IDS.values(), *CASE_TWINS}
    summary = json.loads((report / "report.json").read_text())
    for table in ("patients", "assessments", "sessions"):
        passed = pd.read_parquet(out / f"{table}.parquet")
        quarantined = _quarantine(out, table)
        counts = summary["tables"][table]
        assert counts["rows_in"] == counts["passed"] + counts["quarantined"], table
        assert len(passed) == counts["passed"] and len(quarantined) == counts["quarantined"]
        assert not set(passed["patient_id"]) & refused, table
        assert refused <= set(quarantined["patient_id"]), table
        assert set(passed["patient_id"]) == {"pt-a", "pt-b"}, table
    children = _quarantine(out, "assessments")
    assert set(children["failed_checks"].str.split("; ").explode()) <= {
        "patient_id.invalid_patient_id", "patient_id.parent_patient_rejected"}


def test_no_id_is_echoed_outside_the_quarantine_files(run):
    done, _, report = run
    written = done.stdout + done.stderr + "".join(
        p.read_text(encoding="utf-8") for p in report.rglob("*") if p.is_file())
    for case, value in BAD_IDS.items():
        if case.startswith("reserved"):
            continue  # "index" is an ordinary word
        assert value not in written, case
    for twin in CASE_TWINS:
        assert twin not in written


@settings(max_examples=300, deadline=None)
@given(st.lists(st.from_regex(rf"\A{PATIENT_ID_PATTERN}\Z"), max_size=20))
def test_every_id_the_rule_accepts_is_a_distinct_report_file(ids):
    """The report writer (models/report/writer.py) accepts every id that passes validation:
    a valid file name, never the index page, and distinct ids give distinct files even on a
    file system that ignores case."""
    ids = pd.Series(ids, dtype=object)
    valid = ids[~breaks_id_rule(ids)]
    unique = valid[~patient_key(valid).duplicated()]
    names = [safe_file_name(i).lower() for i in unique]
    assert "index.html" not in names
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("value", [
    "pt-a", "PT-0001", "0001", "Pt_001.k", "btb-100", "a", "q" * 64, "index2", "my.index"])
def test_ordinary_ids_follow_the_rule(value):
    assert not breaks_id_rule(pd.Series([value])).any()


def test_simulated_and_real_data_ids_follow_the_rule():
    cohort = simulate_cohort(n_patients=2000, n_sites=4, seed=3)
    for name, frame in cohort.tables.items():
        assert not breaks_id_rule(frame["patient_id"]).any(), name
    assert not patient_key(cohort.tables["patients"]["patient_id"]).duplicated().any()
    real = convert_btheb.patient_ids(pd.DataFrame({"rownames": range(1, 101)}))
    assert not breaks_id_rule(real).any()
    demo = pd.read_csv(REPO / "data" / "raw" / "demo" / "patients.csv", dtype=str)
    assert not breaks_id_rule(demo["patient_id"]).any()


def test_chunked_validation_quarantines_ids_equal_but_for_case_like_the_whole(tmp_path):
    raw = write_raw(tmp_path / "raw", patients=GOOD["patients"] + "PT-A,site_01,50,male,22\n")
    whole, _ = validate_folder(raw, REGISTRIES, 1.0)
    tables = contract_tables(REGISTRIES)
    split = partition(raw, tables, tmp_path / "scratch", chunk_patients=1)
    chunks = [validate_tables(split.raw_tables(k), tables, contract_schemas(REGISTRIES))
              for k in range(split.n_chunks)]
    assert len(whole["patients"].quarantined) == 2
    assert sum(len(c["patients"].quarantined) for c in chunks) == 2
