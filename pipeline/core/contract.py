"""The data contract: which tables and columns the pipeline accepts, in one place.

`docs/data-contract.md` describes the same contract for people; `tests/data/test_contract_doc.py`
keeps the two in step. Days are integers relative to the index day 0, the first treatment
session; the contract carries no calendar dates.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from pipeline.core.registries import Registries

Kind = Literal["id", "integer", "number", "binary", "category", "text"]


@dataclass(frozen=True)
class Column:
    """One column of a contract table.

    `required` means the column must be present in the file; `nullable` means a row may leave it
    empty. `levels` lists allowed values of a category; `min`/`max` bound numbers (inclusive).
    """

    name: str
    kind: Kind
    description: str
    required: bool = False
    nullable: bool = True
    levels: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False  # True where the lower bound itself is not allowed (dose > 0)


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    required: bool
    columns: tuple[Column, ...]
    # Columns whose allowed range depends on another column of the same row (a score's range
    # depends on its instrument); enforced row by row by the validate stage.
    row_ranges: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


SEXES = ("female", "male", "other", "unknown")
DIAGNOSES = ("mdd", "bipolar_i", "bipolar_ii", "other")
ANTIDEPRESSANT_CLASSES = (
    "ssri", "snri", "tca", "maoi", "bupropion", "mirtazapine", "other_antidepressant",
)
TREATMENT_CLASSES = ANTIDEPRESSANT_CLASSES + (
    "antipsychotic_augmentation", "lithium", "benzodiazepine", "ect", "tms", "psychotherapy",
    "other",
)
TREATMENT_OUTCOMES = ("response", "partial", "none", "intolerant", "unknown")
ROUTES = ("iv", "im", "intranasal", "oral", "subcutaneous")
#: When a rating or sample was taken relative to that day's ketamine/esketamine dose. Empty means
#: unknown; an unmarked record is taken as pre-dose (on day 0: before the first dose, so it can
#: be a baseline). A `post_dose` record on day 0 shows the drug's rapid effect: never a baseline.
PRE_DOSE, POST_DOSE = "pre_dose", "post_dose"
TIMINGS = (PRE_DOSE, POST_DOSE)
DOSE_UNITS = ("mg_per_kg", "mg")
PATIENT_FLAGS = (
    "family_history_aud", "prior_suicide_attempt", "anxious_distress", "comorbid_ptsd",
    "comorbid_chronic_pain", "comorbid_sud",
)
#: Age is top-coded: 90 means "90 or older" (HIPAA Safe Harbor allows no age above 89).
AGE_TOP_CODE = 90

#: The patient-id rule. Ids are keys that later stages also use as file names (one HTML report
#: per patient, `<patient_id>.html`), so only characters that are safe in a file name on every
#: system are allowed, and nothing that could leave the output folder: no `/`, `\\`, spaces,
#: line breaks or control characters, no leading dot, no `..`. Ids are compared ignoring case
#: (`P1` and `p1` are one patient: they would be one file on macOS and Windows).
PATIENT_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
#: Names the report folder uses for its own files: a patient `index` would overwrite
#: `index.html`. Compared ignoring case.
RESERVED_PATIENT_IDS = frozenset({"index"})
PATIENT_ID_RULE = (
    "1 to 64 characters, only letters A-Z/a-z, digits, '.', '_' and '-', starting with a letter "
    "or digit, without '..', and not the reserved name 'index'; ids equal except for upper/"
    "lower case are the same id")


def patient_key(ids: pd.Series) -> pd.Series:
    """The form in which two ids are the same patient: ids equal except for case are one id."""
    return ids.astype(str).str.lower()


def breaks_id_rule(ids: pd.Series) -> pd.Series:
    """True for each non-empty id that breaks the patient-id rule (PATIENT_ID_RULE)."""
    text = ids.astype(str)
    # fullmatch, not match: `$` would accept a trailing line break.
    follows = text.str.fullmatch(PATIENT_ID_PATTERN).fillna(False).astype(bool)
    return ~follows | text.str.contains("..", regex=False) \
        | patient_key(text).isin(RESERVED_PATIENT_IDS)


_PATIENT_ID = Column(
    "patient_id", "id", "pseudonymous patient key; never a name, MRN, SSN or e-mail",
    required=True, nullable=False,
)
_FLAG_TEXT = {
    "family_history_aud": "a first-degree relative with alcohol use disorder",
    "prior_suicide_attempt": "at least one suicide attempt before the index day",
    "anxious_distress": "DSM-5 anxious distress specifier in the current episode",
    "comorbid_ptsd": "post-traumatic stress disorder",
    "comorbid_chronic_pain": "chronic pain condition",
    "comorbid_sud": "substance use disorder",
}
_TIMING = Column(
    "timing", "category", "pre_dose or post_dose: before or after that day's dose; empty = "
    "unknown, taken as pre-dose", levels=TIMINGS,
)


def contract_tables(registries: Registries) -> dict[str, Table]:
    """The five contract tables, with levels and ranges filled in from the registries."""
    patient_columns = [
        _PATIENT_ID,
        Column("site", "category", "treating site or clinic (free label, not an address)"),
        Column("age_years", "integer", f"age in whole years; {AGE_TOP_CODE} means "
               f"{AGE_TOP_CODE} or older", min=18, max=AGE_TOP_CODE),
        Column("sex", "category", "sex recorded by the site", levels=SEXES),
        Column("bmi", "number", "body-mass index, kg/m^2", min=12, max=80),
        Column("diagnosis", "category", "diagnosis of the current episode", levels=DIAGNOSES),
        Column("episode_months", "number", "length of the current episode, months", min=0),
    ]
    patient_columns += [Column(f, "binary", f"0/1: {_FLAG_TEXT[f]}") for f in PATIENT_FLAGS]
    for cov in registries.covariates.values():
        kind: Kind = {"numeric": "number", "binary": "binary", "categorical": "category"}[cov.kind]
        patient_columns.append(Column(
            cov.key, kind, f"declared covariate: {cov.label}",
            levels=tuple(cov.levels) if cov.levels else None, min=cov.min, max=cov.max,
        ))

    return {
        "patients": Table(
            "patients", "one row per patient", required=True, columns=tuple(patient_columns),
        ),
        "treatments": Table(
            "treatments", "one row per prior or concurrent treatment", required=False,
            columns=(
                _PATIENT_ID,
                Column("treatment_class", "category", "class of treatment", required=True,
                       nullable=False, levels=TREATMENT_CLASSES),
                Column("start_day", "integer", "day the treatment started (<= 0)", max=0),
                Column("adequate_trial", "binary", "0/1: adequate dose and duration"),
                Column("outcome", "category", "outcome of the trial", levels=TREATMENT_OUTCOMES),
                Column("ongoing_at_index", "binary", "0/1: still taken on day 0"),
            ),
        ),
        "assessments": Table(
            "assessments", "one row per rating", required=True,
            columns=(
                _PATIENT_ID,
                Column("day", "integer", "day of the rating", required=True, nullable=False),
                Column("instrument", "category", "a key of configs/instruments.yaml",
                       required=True, nullable=False, levels=tuple(registries.instruments)),
                Column("score", "number", "total score, within the instrument's range",
                       required=True, nullable=False),
                _TIMING,
            ),
            row_ranges={"score": "instrument"},
        ),
        "sessions": Table(
            "sessions", "one row per ketamine or esketamine session", required=False,
            columns=(
                _PATIENT_ID,
                Column("day", "integer", "day of the session (>= 0; day 0 is the first)",
                       required=True, nullable=False, min=0),
                Column("route", "category", "route of administration", required=True,
                       nullable=False, levels=ROUTES),
                Column("dose", "number", "dose given, in dose_unit (> 0)", min=0,
                       min_exclusive=True),
                Column("dose_unit", "category", "unit of dose", levels=DOSE_UNITS),
                Column("dissociation_cadss", "number", "CADSS total during the session",
                       min=0, max=92),
                Column("sbp_change_mmhg", "number", "peak change in systolic blood pressure, mmHg"),
            ),
        ),
        "biomarkers": Table(
            "biomarkers", "one row per measurement", required=False,
            columns=(
                _PATIENT_ID,
                Column("day", "integer", "day of the sample", required=True, nullable=False),
                Column("marker", "category", "a key of configs/biomarkers.yaml", required=True,
                       nullable=False, levels=tuple(registries.biomarkers)),
                Column("value", "number", "measured value, within the marker's range",
                       required=True, nullable=False),
                _TIMING,
            ),
            row_ranges={"value": "marker"},
        ),
    }


TABLE_NAMES = ("patients", "treatments", "assessments", "sessions", "biomarkers")
