"""Structural problems stop the stage with their own exit code, a message naming the file,
the column and what to do, and no traceback."""
from __future__ import annotations

from pipeline.validation.errors import ExitCode
from tests.validation.conftest import GOOD


def _stopped(run, code: ExitCode, *phrases: str) -> None:
    assert run.code == code, run.text
    assert "Traceback" not in run.text
    assert "what to do:" in run.text
    for phrase in phrases:
        assert phrase in run.text, run.text


def test_good_tables_pass(run_with):
    run = run_with()
    assert run.code == 0, run.text
    assert (run.out / "patients.parquet").exists()
    assert (run.report / "report.json").exists()


def test_semicolon_delimited_file_is_refused_naming_the_delimiter(run_with):
    run = run_with(assessments=GOOD["assessments"].replace(",", ";"))
    _stopped(run, ExitCode.WRONG_DELIMITER, "assessments.csv", "semicolons")
    assert not run.out.exists()


def test_tab_delimited_file_is_refused(run_with):
    _stopped(run_with(sessions=GOOD["sessions"].replace(",", "\t")),
             ExitCode.WRONG_DELIMITER, "sessions.csv", "tabs")


def test_utf8_bom_is_accepted(run_with):
    run = run_with(patients=b"\xef\xbb\xbf" + GOOD["patients"].encode())
    assert run.code == 0, run.text


def test_latin1_file_is_refused_naming_the_encoding(run_with):
    latin = GOOD["patients"].replace("site_01", "clínica_01").encode("latin-1")
    _stopped(run_with(patients=latin), ExitCode.WRONG_ENCODING, "patients.csv", "Latin-1",
             "UTF-8")


def test_header_only_required_table_is_refused(run_with):
    _stopped(run_with(assessments="patient_id,day,instrument,score\n"),
             ExitCode.EMPTY_TABLE, "assessments.csv", "no rows")


def test_header_only_optional_table_is_fine(run_with):
    run = run_with(sessions="patient_id,day,route,dose,dose_unit\n")
    assert run.code == 0, run.text


def test_missing_required_table(run_with):
    _stopped(run_with(assessments=None), ExitCode.MISSING_INPUT, "assessments")


def test_missing_optional_table_gives_an_empty_typed_table(run_with):
    import pandas as pd
    run = run_with(sessions=None)
    assert run.code == 0, run.text
    sessions = pd.read_parquet(run.out / "sessions.parquet")
    assert len(sessions) == 0 and "route" in sessions.columns


def test_missing_required_column(run_with):
    _stopped(run_with(assessments="patient_id,day,instrument\npt-a,0,madrs\n"),
             ExitCode.MISSING_COLUMN, "assessments.csv", "'score'")


def test_undeclared_extra_column(run_with):
    patients = "patient_id,site,smoker\npt-a,site_01,1\npt-b,site_01,0\n"
    _stopped(run_with(patients=patients), ExitCode.UNDECLARED_COLUMN, "patients.csv",
             "'smoker'", "configs/covariates.yaml")


def test_row_with_too_many_fields_is_unreadable(run_with):
    _stopped(run_with(sessions=GOOD["sessions"] + "pt-a,6,iv,0.5,mg_per_kg,extra\n"),
             ExitCode.UNREADABLE_FILE, "sessions.csv")


def test_corrupt_parquet_is_unreadable(run_with):
    _stopped(run_with(sessions=None, **{"sessions.parquet": b"not parquet at all"}),
             ExitCode.UNREADABLE_FILE, "sessions.parquet")


def test_parquet_table_is_accepted(run_with, tmp_path):
    import io

    import pandas as pd
    frame = pd.read_csv(io.StringIO(GOOD["sessions"]))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    run = run_with(sessions=None, **{"sessions.parquet": buffer.getvalue()})
    assert run.code == 0, run.text
    assert len(pd.read_parquet(run.out / "sessions.parquet")) == 3
