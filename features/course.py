"""The planned treatment: route and dose of the first session, decided on day 0."""
from __future__ import annotations

import pandas as pd

from features.records import KnownRecords
from features.registry import per_patient
from pipeline.core.contract import DOSE_UNITS

# How each contract dose unit is written for a reader. Built from the contract's DOSE_UNITS so
# that a new unit fails here, at import, until someone decides how its dose is featurised.
_UNIT_TEXT = {"mg_per_kg": "mg/kg", "mg": "mg"}
DOSE_FEATURE_UNITS = {level: _UNIT_TEXT[level] for level in DOSE_UNITS}
# The first dose as features, one per unit: a patient has at most one of them recorded, so
# together they are one characteristic (counted once when missing).
DOSE_FEATURES = tuple(f"dose_{level}" for level in DOSE_UNITS)
# Every group of features that are alternative forms of one characteristic, by group name: the
# registry marks them (FeatureSpec.alternatives) and the missing counts read them from here.
ALTERNATIVES = {"first_dose": DOSE_FEATURES}


def _first_session(records: KnownRecords) -> pd.DataFrame:
    s = records.sessions
    return s.sort_values(["patient_id", "day"], kind="stable").groupby("patient_id").first()


def first_session(column: str, dtype: str):
    def compute(records: KnownRecords) -> pd.Series:
        first = _first_session(records)
        if column not in first:
            return pd.Series(pd.NA, index=records.patient_ids, dtype=dtype)
        return per_patient(records, first[column]).astype(dtype)
    compute.__doc__ = f"sessions.{column} of the first (day-0) session."
    return compute


def first_dose_in(unit: str):
    """The first session's dose when it was given in `unit` (a DOSE_UNITS level).

    Unit: `unit` itself (mg/kg body weight for racemic ketamine IV, IM or subcutaneous; mg for
    intranasal esketamine and oral ketamine). Missing when the first dose was given in another
    unit, or its unit or dose is not recorded: 0.5 mg/kg and 56 mg are not points on one scale,
    and the contract holds no body weight to convert one into the other.
    """
    if unit not in DOSE_UNITS:
        raise ValueError(f"{unit!r} is not a contract dose unit ({', '.join(DOSE_UNITS)})")

    def compute(records: KnownRecords) -> pd.Series:
        first = _first_session(records)
        dose = pd.to_numeric(first["dose"], errors="coerce").astype("Float64")
        in_unit = dose.where((first["dose_unit"] == unit).fillna(False).astype(bool))
        return per_patient(records, in_unit).astype("Float64")
    compute.__doc__ = first_dose_in.__doc__.replace("`unit`", unit)
    return compute
