"""Row-level failures go, whole and unchanged, to quarantine with their reasons; nothing is
lost: rows in = passed + quarantined for every table."""
from __future__ import annotations

import json

import pandas as pd

from pipeline.validation.errors import ExitCode
from tests.validation.conftest import GOOD, validate, write_raw


def _quarantine(run, table: str) -> pd.DataFrame:
    return pd.read_csv(run.out / "quarantine" / f"{table}.csv", dtype=str, keep_default_na=False)


def _report(run) -> dict:
    return json.loads((run.report / "report.json").read_text())


def _reconciles(run) -> None:
    for name, t in _report(run)["tables"].items():
        assert t["rows_in"] == t["passed"] + t["quarantined"], name
        if t["supplied"]:
            assert len(pd.read_parquet(run.out / f"{name}.parquet")) == t["passed"], name
            assert len(_quarantine(run, name)) == t["quarantined"], name


def test_text_in_a_numeric_column(run_with):
    run = run_with(assessments=GOOD["assessments"] + "pt-a,21,madrs,thirty\n")
    assert run.code == 0, run.text
    bad = _quarantine(run, "assessments")
    assert bad["failed_checks"].tolist() == ["score.not_a_number"]
    assert bad["score"].tolist() == ["thirty"], "the row is kept unchanged"
    assert "score is not a number" in bad["reason"][0]
    assert bad["source_line"].tolist() == ["6"]
    _reconciles(run)


def test_na_markers_and_empty_required_cells(run_with):
    run = run_with(assessments=GOOD["assessments"] + "pt-a,21,madrs,N/A\npt-a,28,madrs,\n"
                   "pt-b,28,,12\n")
    checks = set(_quarantine(run, "assessments")["failed_checks"])
    assert checks == {"score.missing_marker", "score.required_value_missing",
                      "instrument.required_value_missing"}
    _reconciles(run)


def test_empty_optional_cell_is_missing_not_a_failure(run_with):
    run = run_with(patients=GOOD["patients"].replace("24.5", ""))
    assert _report(run)["tables"]["patients"]["quarantined"] == 0
    assert pd.read_parquet(run.out / "patients.parquet")["bmi"].isna().sum() == 1


def test_na_in_an_optional_column_is_quarantined(run_with):
    run = run_with(patients=GOOD["patients"].replace("24.5", "N/A"))
    assert _quarantine(run, "patients")["failed_checks"].tolist() == ["bmi.missing_marker"]


def test_scores_out_of_range_for_their_instrument(run_with):
    run = run_with(assessments=GOOD["assessments"] + "pt-a,21,madrs,61\npt-a,21,phq9,28\n"
                   "pt-a,28,phq9,27\n")
    bad = _quarantine(run, "assessments")
    assert bad["failed_checks"].tolist() == ["score.out_of_range_for_instrument"] * 2
    assert _report(run)["tables"]["assessments"]["passed"] == 5


def test_contract_ranges_and_levels(run_with):
    sessions = GOOD["sessions"] + "pt-a,-1,iv,0.5,mg_per_kg\npt-a,7,IV,0,mg_per_kg\n"
    bad = _quarantine(run_with(sessions=sessions), "sessions")
    assert bad["failed_checks"].tolist() == [
        "day.out_of_range", "dose.out_of_range; route.not_allowed_value"]


def test_duplicate_patient_id_quarantines_every_copy_and_their_rows(run_with):
    run = run_with(patients=GOOD["patients"] + "pt-a,site_01,35,female,24.5\n")
    patients = _quarantine(run, "patients")
    assert patients["failed_checks"].tolist() == ["patient_id.duplicate_patient_id"] * 2
    assessments = _quarantine(run, "assessments")
    assert set(assessments["patient_id"]) == {"pt-a"}
    assert set(assessments["failed_checks"]) == {"patient_id.parent_patient_rejected"}
    assert len(_quarantine(run, "sessions")) == 2
    _reconciles(run)


def test_exact_duplicate_row_keeps_the_first_copy(run_with):
    run = run_with(assessments=GOOD["assessments"] + "pt-a,0,madrs,32\n")
    bad = _quarantine(run, "assessments")
    assert bad["failed_checks"].tolist() == ["row.duplicate_row"]
    assert bad["source_line"].tolist() == ["6"]
    assert _report(run)["tables"]["assessments"]["passed"] == 4


def test_orphan_assessment(run_with):
    run = run_with(assessments=GOOD["assessments"] + "pt-zz,0,madrs,30\n")
    bad = _quarantine(run, "assessments")
    assert bad["failed_checks"].tolist() == ["patient_id.orphan_patient"]
    assert bad["patient_id"].tolist() == ["pt-zz"]


def test_conflicting_same_day_scores_quarantine_both(run_with):
    run = run_with(assessments=GOOD["assessments"] + "pt-a,14,madrs,18\n")
    bad = _quarantine(run, "assessments")
    assert sorted(bad["score"]) == ["12", "18"]
    assert set(bad["failed_checks"]) == {"score.conflicting_scores"}


def test_patient_with_sessions_but_no_day0_session(run_with):
    run = run_with(sessions=GOOD["sessions"].replace("pt-a,0,iv", "pt-a,1,iv"))
    assert _quarantine(run, "patients")["failed_checks"].tolist() == [
        "patient_id.no_day0_session"]
    assert set(_quarantine(run, "sessions")["patient_id"]) == {"pt-a"}
    assert _report(run)["tables"]["patients"]["passed"] == 1


def test_passed_rows_are_typed(run_with):
    run = run_with()
    assessments = pd.read_parquet(run.out / "assessments.parquet")
    assert str(assessments["day"].dtype) == "Int64"
    assert str(assessments["score"].dtype) == "Float64"


def test_too_much_quarantine_stops_after_writing_the_report(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("seed: 1\ndata: {raw_dir: x}\nvalidate: {max_quarantine_fraction: 0.1}\n")
    raw = write_raw(tmp_path / "raw", assessments=GOOD["assessments"] + "pt-a,21,madrs,99\n")
    run = validate(tmp_path, raw, params)
    assert run.code == ExitCode.TOO_MUCH_QUARANTINED, run.text
    assert "assessments" in run.text and "max_quarantine_fraction" in run.text
    assert "Traceback" not in run.text
    assert _report(run)["status"] == "too_much_quarantined"
    assert (run.report / "report.html").exists()
    assert (run.out / "quarantine" / "assessments.csv").exists()
    assert not (run.out / "assessments.parquet").exists(), "no hand-off from a stopped stage"


def test_report_holds_no_patient_values(run_with):
    run = run_with(assessments=GOOD["assessments"] + "pt-a,21,madrs,thirty\npt-zz,0,madrs,3\n")
    html = (run.report / "report.html").read_text()
    raw_json = (run.report / "report.json").read_text()
    for secret in ("pt-a", "pt-b", "pt-zz", "thirty"):
        assert secret not in html and secret not in raw_json
    assert "score.not_a_number" in html and "how to fix" in html
    assert "<script" not in html and "http" not in html, "self-contained, no network"
    report = _report(run)["tables"]["assessments"]
    assert report["failures_by_check"] == {"score.not_a_number": 1,
                                           "patient_id.orphan_patient": 1}


def test_every_check_is_documented_with_a_fix():
    from pipeline.validation.checks import CHECKS
    from tests.validation.conftest import REPO
    doc = (REPO / "docs" / "validation.md").read_text(encoding="utf-8")
    rows = [line.split(" | ")[0] for line in doc.splitlines() if line.startswith("| `")]
    for check in CHECKS:
        assert any(f"`{check}`" in row or f"`row.{check}`" in row for row in rows), check
