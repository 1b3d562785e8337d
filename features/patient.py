"""Patient characteristics and site-declared covariates, passed through as recorded."""
from __future__ import annotations

import pandas as pd

from features.records import KnownRecords


def patient_column(column: str):
    def compute(records: KnownRecords) -> pd.Series:
        patients = records.patients
        if column not in patients:  # an optional column the site did not export
            return pd.Series(pd.NA, index=records.patient_ids, dtype="object")
        return pd.Series(patients[column].to_numpy(), index=records.patient_ids)
    compute.__doc__ = f"patients.{column}, as recorded."
    return compute
