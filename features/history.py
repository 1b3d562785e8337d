"""Treatment history before the index day (ATHF-style counts and flags)."""
from __future__ import annotations

import pandas as pd

from features.records import KnownRecords
from features.registry import per_patient
from pipeline.core.contract import ANTIDEPRESSANT_CLASSES

FAILED_OUTCOMES = ("none", "partial", "intolerant")
AUGMENTATION_CLASSES = ("antipsychotic_augmentation", "lithium")


def _count(records: KnownRecords, rows: pd.DataFrame) -> pd.Series:
    return per_patient(records, rows.groupby("patient_id").size(), fill=0).astype("Int64")


def _any(records: KnownRecords, rows: pd.DataFrame) -> pd.Series:
    return (_count(records, rows) > 0).astype("Int64")


def prior_failed_trials(records: KnownRecords) -> pd.Series:
    """Adequate antidepressant trials whose outcome was none, partial or intolerant.

    Unit: trials. Sources: treatments.treatment_class (antidepressant classes only),
    adequate_trial, outcome. Benzodiazepines, ECT, TMS, psychotherapy and augmentation are
    counted by their own features, never here. A trial with an unknown outcome or no adequacy
    rating is not counted: the clinic could not say it failed.
    """
    t = records.treatments
    failed = t[t["treatment_class"].isin(ANTIDEPRESSANT_CLASSES)
               & (t["adequate_trial"] == 1).fillna(False).astype(bool)
               & t["outcome"].isin(FAILED_OUTCOMES)]
    return _count(records, failed)


def benzodiazepine_at_index(records: KnownRecords) -> pd.Series:
    """1 when a benzodiazepine is still taken on the index day (blunts ketamine response).

    Sources: treatments.treatment_class == benzodiazepine, ongoing_at_index.
    """
    t = records.treatments
    return _any(records, t[(t["treatment_class"] == "benzodiazepine")
                           & (t["ongoing_at_index"] == 1).fillna(False).astype(bool)])


def _history_of(classes: tuple[str, ...]):
    def history(records: KnownRecords) -> pd.Series:
        t = records.treatments
        return _any(records, t[t["treatment_class"].isin(classes)])
    return history


ect_history = _history_of(("ect",))
ect_history.__doc__ = "1 when the patient has had ECT before the index day. Source: treatments."
tms_history = _history_of(("tms",))
tms_history.__doc__ = "1 when the patient has had TMS before the index day. Source: treatments."
augmentation_history = _history_of(AUGMENTATION_CLASSES)
augmentation_history.__doc__ = (
    "1 when an antidepressant was augmented (antipsychotic or lithium). Source: treatments.")
psychotherapy_history = _history_of(("psychotherapy",))
psychotherapy_history.__doc__ = "1 when the patient has had psychotherapy. Source: treatments."
