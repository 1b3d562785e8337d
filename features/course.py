"""The planned treatment: route and dose of the first session, decided on day 0."""
from __future__ import annotations

import pandas as pd

from features.records import KnownRecords
from features.registry import per_patient


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
