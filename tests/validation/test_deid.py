"""The de-identification gate refuses identifiers before anything is written, naming the
column and the reason but never the offending value."""
from __future__ import annotations

import pytest

from pipeline.validation.errors import ExitCode
from tests.validation.conftest import GOOD


def _refused(run, column: str, reason: str, secret: str) -> None:
    assert run.code == ExitCode.IDENTIFIERS_FOUND, run.text
    assert "Traceback" not in run.text
    assert column in run.text and reason in run.text, run.text
    assert secret not in run.text, "the gate must never echo an offending value"
    assert not run.out.exists() and not run.report.exists(), "nothing may be written"


def test_date_column(run_with):
    patients = ("patient_id,site,admission_date\n"
                "pt-a,site_01,2023-04-17\npt-b,site_01,2023-05-02\n")
    _refused(run_with(patients=patients), "admission_date", "calendar date", "2023-04-17")


def test_dates_hidden_in_the_day_column(run_with):
    assessments = GOOD["assessments"].replace("pt-a,14,", "pt-a,03/11/2024,")
    _refused(run_with(assessments=assessments), "day", "calendar dates", "03/11/2024")


def test_name_column(run_with):
    patients = "patient_id,name,site\npt-a,Jane Doe,site_01\npt-b,John Roe,site_02\n"
    _refused(run_with(patients=patients), "'name'", "a person's name", "Jane Doe")


def test_email_hidden_in_a_declared_covariate(run_with):
    patients = ("patient_id,site,employment\n"
                "pt-a,site_01,jane.doe@example.org\npt-b,site_01,employed\n")
    _refused(run_with(patients=patients), "employment", "e-mail", "jane.doe@example.org")


def test_age_of_95_is_refused_not_quarantined(run_with):
    patients = GOOD["patients"].replace("pt-a,site_01,34,", "pt-a,site_01,95,")
    run = run_with(patients=patients)
    _refused(run, "age_years", "top-coded to 90", ",95,")
    assert " 95" not in run.text


def test_age_of_90_is_the_allowed_top_code(run_with):
    assert run_with().code == 0  # GOOD has a patient aged 90


@pytest.mark.parametrize("secret, reason", [
    ("123-45-6789", "social security"),
    ("jdoe@clinic.org", "e-mail"),
    ("(617) 555-0142", "phone"),
    ("00012345678", "medical record"),
])
def test_patient_ids_that_look_like_identifiers(run_with, secret, reason):
    patients = GOOD["patients"].replace("pt-a", f'"{secret}"')
    assessments = GOOD["assessments"].replace("pt-a", f'"{secret}"')
    sessions = GOOD["sessions"].replace("pt-a", f'"{secret}"')
    run = run_with(patients=patients, assessments=assessments, sessions=sessions)
    _refused(run, "patient_id", reason, secret)


@pytest.mark.parametrize("column, value, reason", [
    ("home_address", "12 Elm Street", "an address"),
    ("zip", "02139", "ZIP"),
    ("fax_number", "617-555-0100", "phone or fax"),
    ("clinician_notes", "tolerated well, mild nausea after the second dose", "free text"),
    ("website", "https://example.org/p/1", "URL"),
])
def test_identifying_extra_columns(run_with, column, value, reason):
    patients = f'patient_id,{column}\npt-a,"{value}"\npt-b,\n'
    _refused(run_with(patients=patients), column, reason, value)


def test_free_text_in_a_contract_column(run_with):
    note = "patient reports feeling much better since last week"
    sessions = GOOD["sessions"].replace("mg_per_kg\npt-a,3", f'"{note}"\npt-a,3')
    _refused(run_with(sessions=sessions), "dose_unit", "free text", note)


def test_clean_demo_style_values_are_not_flagged(run_with):
    # Pseudonymous ids, site labels, decimals and negative days must not trip the gate.
    assert run_with().code == 0
