"""What the clinic knows on the prediction day: the single place where future records are cut.

Every feature function receives a `KnownRecords`, never the raw tables, so no feature can see a
record from after the prediction day even by mistake.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Measured during a session, after the dose: known only once that session is over.
SESSION_EFFECT_COLUMNS = ("dissociation_cadss", "sbp_change_mmhg")


@dataclass(frozen=True)
class KnownRecords:
    """Typed contract tables restricted to what is known on `prediction_day`.

    `patients` is indexed by nothing in particular; `patient_ids` fixes the row order of every
    feature.
    """

    prediction_day: int
    patients: pd.DataFrame
    treatments: pd.DataFrame
    assessments: pd.DataFrame
    sessions: pd.DataFrame
    biomarkers: pd.DataFrame

    @property
    def patient_ids(self) -> pd.Index:
        return pd.Index(self.patients["patient_id"], name="patient_id")


# Columns every feature may rely on. A present table may lack optional columns (the contract
# allows it), and optional tables may be absent: both become all-missing columns here, once.
_COLUMNS = {
    "treatments": ["patient_id", "treatment_class", "start_day", "adequate_trial", "outcome",
                   "ongoing_at_index"],
    "assessments": ["patient_id", "day", "instrument", "score"],
    "sessions": ["patient_id", "day", "route", "dose", "dose_unit", *SESSION_EFFECT_COLUMNS],
    "biomarkers": ["patient_id", "day", "marker", "value"],
}


def _complete(frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame() if frame is None else frame.copy()
    for column in columns:
        if column not in frame:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="object")
    return frame


def known_on(tables: dict[str, pd.DataFrame], prediction_day: int) -> KnownRecords:
    """Cut every dated record after `prediction_day`.

    Ratings and biomarkers count when taken on or before the prediction day. A session on or
    before it is known as planned treatment (route, dose), but what was measured during it
    (dissociation, blood pressure) only when the session was strictly before the prediction
    day: on day 0 the clinician decides before the first dose. Treatments start on or before
    day 0 by contract; one starting after the prediction day is cut too.
    """
    treatments, assessments, sessions, biomarkers = (
        _complete(tables.get(name), columns) for name, columns in _COLUMNS.items())

    treatments = treatments[~(treatments["start_day"] > prediction_day).fillna(False)
                            .astype(bool)]
    assessments = assessments[assessments["day"] <= prediction_day]
    biomarkers = biomarkers[biomarkers["day"] <= prediction_day]
    sessions = sessions[sessions["day"] <= prediction_day].copy()
    same_day = sessions["day"] >= prediction_day
    for column in SESSION_EFFECT_COLUMNS:
        if column in sessions:
            sessions[column] = sessions[column].mask(same_day)

    return KnownRecords(
        prediction_day=prediction_day,
        patients=tables["patients"].reset_index(drop=True),
        treatments=treatments.reset_index(drop=True),
        assessments=assessments.reset_index(drop=True),
        sessions=sessions.reset_index(drop=True),
        biomarkers=biomarkers.reset_index(drop=True),
    )
