"""The row-level checks: their names, the reason a person reads, and how to fix each.

A failure is one (row, column, check) triple; `column` is "row" for checks on the whole row.
Reasons name columns, never values, so they can appear in the report.
"""
from __future__ import annotations

import pandas as pd

from pipeline.core.contract import PATIENT_ID_RULE

#: check -> (reason, with {column} filled in; how to fix)
CHECKS: dict[str, tuple[str, str]] = {
    "not_a_number": (
        "{column} is not a number",
        "Write plain numbers: a dot for decimals, no units, words or thousands separators."),
    "not_an_integer": (
        "{column} is not a whole number",
        "Days, ages and 0/1 flags are whole numbers; check the export did not compute them."),
    "missing_marker": (
        "{column} holds a missing-value marker (such as N/A, NA, null or a blank space)",
        "Leave the cell empty when a value is unknown; that is how the contract marks it."),
    "required_value_missing": (
        "{column} is empty but required",
        "Fill in the value at the source, or leave the row out of the export."),
    "not_allowed_value": (
        "{column} is not one of its allowed values",
        "Use the exact lower-case levels in docs/data-contract.md or configs/ (add a new scale, "
        "marker or covariate level to configs/ if it is genuinely new)."),
    "out_of_range": (
        "{column} is outside its allowed range",
        "Check the value at the source; the ranges are in docs/data-contract.md."),
    "out_of_range_for_instrument": (
        "{column} is outside the range registered for its instrument",
        "Check the score and the instrument name; ranges are in configs/instruments.yaml."),
    "out_of_range_for_marker": (
        "{column} is outside the range registered for its marker",
        "Check the value, its unit and the marker name; ranges are in configs/biomarkers.yaml."),
    "not_whole_for_marker": (
        "{column} must be a whole number for this marker",
        "Markers flagged `integer: true` in configs/biomarkers.yaml (allele counts) take whole "
        "numbers only."),
    "invalid_patient_id": (
        "{column} breaks the patient-id rule (" + PATIENT_ID_RULE + ")",
        "Give every row the patient's pseudonymous study id, following the rule in "
        "docs/data-contract.md: no spaces, slashes, line breaks or other punctuation. Rows of "
        "the other tables for this patient are held back with it."),
    "duplicate_row": (
        "exact copy of an earlier row (the first copy was kept)",
        "Remove repeated rows from the export; an exact copy adds nothing but weight."),
    "duplicate_patient_id": (
        "{column} appears on more than one row of patients (ids that differ only in upper/lower "
        "case count as the same id); every copy is held back because the right one cannot be "
        "told",
        "Keep exactly one row per patient in patients, and give different patients ids that "
        "differ by more than case."),
    "orphan_patient": (
        "{column} is not in the patients table",
        "Add the patient to patients, or correct the id on this row."),
    "parent_patient_rejected": (
        "the patient's row in patients was quarantined, so this row is held back with it",
        "Fix the patient's row in patients (see quarantine/patients.csv); these rows then pass."),
    "conflicting_scores": (
        "another rating of the same patient, instrument, day and timing (pre-dose, which "
        "includes unmarked, or post-dose) has a different score; both are held back because "
        "the right one cannot be told",
        "Keep the correct rating and remove the other at the source; if one was taken after "
        "that day's dose, mark it post_dose in the timing column."),
    "post_dose_before_day0": (
        "{column} is post_dose on a day before day 0, but day 0 is the first ketamine or "
        "esketamine dose",
        "Check the day and the timing: nothing before the first session can be post-dose. "
        "Re-base the days so the first session is day 0, or correct the timing."),
    "no_day0_session": (
        "the patient has sessions but none on day 0, so their days are not counted from the "
        "first session and none of their rows can be placed in time",
        "Re-base the patient's days so the first ketamine session is day 0."),
}

FAILURE_COLUMNS = ["row", "column", "check"]


def failures(rows: pd.Index | pd.Series, column: str, check: str) -> pd.DataFrame:
    """A failure frame for `check` on `column` at each of `rows` (positions in the raw table)."""
    assert check in CHECKS, check
    rows = pd.Index(rows, dtype="int64")
    return pd.DataFrame({"row": rows.to_numpy(), "column": column, "check": check})


def no_failures() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "column": pd.Series(dtype=str),
                         "check": pd.Series(dtype=str)})


def combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return no_failures()
    return pd.concat(parts, ignore_index=True).drop_duplicates(FAILURE_COLUMNS)


def label(column: str, check: str) -> str:
    """The key of a failure in the report: `score.out_of_range`, `row.duplicate_row`."""
    return f"{column}.{check}"


def reason(column: str, check: str) -> str:
    return CHECKS[check][0].format(column=column)


def how_to_fix(check: str) -> str:
    return CHECKS[check][1]
