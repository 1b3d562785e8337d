"""What the clinic knows on the prediction day: the single place where future records are cut.

Every feature function receives a `KnownRecords`, never the raw tables, so no feature can see a
record from after the prediction day even by mistake.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.core.contract import POST_DOSE

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
    "assessments": ["patient_id", "day", "instrument", "score", "timing"],
    "sessions": ["patient_id", "day", "route", "dose", "dose_unit", *SESSION_EFFECT_COLUMNS],
    "biomarkers": ["patient_id", "day", "marker", "value", "timing"],
}


def is_post_dose(frame: pd.DataFrame) -> pd.Series:
    """True for a rating or sample marked `post_dose` (taken after that day's dose).

    An unmarked record (empty `timing`, or a table without the column) counts as pre-dose: the
    data contract says so, and the validation report counts the day-0 records nobody marked.
    """
    if "timing" not in frame:
        return pd.Series(False, index=frame.index, dtype=bool)
    return frame["timing"].eq(POST_DOSE).fillna(False).astype(bool)


def pre_dose(frame: pd.DataFrame) -> pd.DataFrame:
    """The records that may be a baseline: every one not marked `post_dose`."""
    return frame[~is_post_dose(frame).to_numpy()]


def in_time_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Records by patient and day and, within a day, pre-dose (or unmarked) before post-dose,
    so "the last record" never depends on the order of rows in the file."""
    order = frame.assign(_post_dose=is_post_dose(frame).to_numpy())
    return order.sort_values(["patient_id", "day", "_post_dose"], kind="stable") \
        .drop(columns="_post_dose")


def _complete(frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame() if frame is None else frame.copy()
    for column in columns:
        if column not in frame:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="object")
    return frame


def _known_measurements(frame: pd.DataFrame, prediction_day: int) -> pd.DataFrame:
    """Ratings or samples on or before the prediction day, less those taken after its dose."""
    day = frame["day"]
    known = (day <= prediction_day) & ~((day == prediction_day) & is_post_dose(frame))
    return frame[known.fillna(False).astype(bool).to_numpy()]


def known_on(tables: dict[str, pd.DataFrame], prediction_day: int) -> KnownRecords:
    """Cut every dated record after `prediction_day`.

    Ratings and biomarkers count when taken on or before the prediction day, except those
    marked `post_dose` on the prediction day itself: on day 0 the clinician decides before the
    first dose, and a rating four hours after it already shows ketamine's rapid effect. (A
    post-dose record of an earlier day is known on a later prediction day, but it is never a
    baseline: see `pre_dose`.) A session on or before the prediction day is known as planned
    treatment (route, dose), but what was measured during it (dissociation, blood pressure) only
    when the session was strictly before the prediction day. Treatments start on or before
    day 0 by contract; one starting after the prediction day is cut too.
    """
    treatments, assessments, sessions, biomarkers = (
        _complete(tables.get(name), columns) for name, columns in _COLUMNS.items())

    treatments = treatments[~(treatments["start_day"] > prediction_day).fillna(False)
                            .astype(bool)]
    assessments, biomarkers = (_known_measurements(t, prediction_day)
                               for t in (assessments, biomarkers))
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
