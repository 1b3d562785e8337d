"""Treatment history before the index day (ATHF-style counts and flags), read as recorded.

Three rules (docs/features.md, "Treatment history"):

- **Recorded or not.** A patient's treatment history counts as recorded when at least one
  antidepressant trial (ssri ... other_antidepressant) is listed for them: every patient
  referred for ketamine or esketamine has tried antidepressants, so a history without any is a
  history that was not exported (no treatments table, an empty one, or no rows for this
  patient). Without it, what a feature would read from the *absence* of rows (no failure, no
  ECT, no benzodiazepine) is unknown and the feature is missing, never 0. A row that is there
  still counts: a listed ECT course is ECT history whatever else is missing.
- **Current episode.** Failed trials, augmentation and ECT count only when they started in the
  current episode, start_day >= -episode_months x 30.44 (TRD and the Maudsley Staging Method are
  defined on the current episode; Fekadu 2009, 2018). TMS, psychotherapy and the
  benzodiazepine taken on day 0 are not episode-bound.
- **Unknown is unknown.** A row that cannot be placed (no start day, no episode length, no
  `ongoing_at_index` for a benzodiazepine) makes the feature missing when it could change the
  value, rather than being counted or dropped by guess.
"""
from __future__ import annotations

import pandas as pd

from features.patient import patient_column
from features.records import KnownRecords
from features.registry import per_patient
from pipeline.core.contract import ANTIDEPRESSANT_CLASSES

FAILED_OUTCOMES = ("none", "partial", "intolerant")
AUGMENTATION_CLASSES = ("antipsychotic_augmentation", "lithium")
# Mean Gregorian month (365.25 / 12 days): converts episode_months to days before day 0.
DAYS_PER_MONTH = 30.44


def history_recorded(records: KnownRecords) -> pd.Series:
    """True for patients with at least one antidepressant row known on the prediction day
    (any episode, adequacy or outcome): their treatment history was exported."""
    t = records.treatments
    listed = t.loc[t["treatment_class"].isin(ANTIDEPRESSANT_CLASSES), "patient_id"].unique()
    return pd.Series(records.patient_ids.isin(listed), index=records.patient_ids)


def episode_start_day(records: KnownRecords) -> pd.Series:
    """Day the current episode began, -episode_months x 30.44 (days, relative to day 0);
    missing when the episode length is not recorded."""
    months = pd.to_numeric(patient_column("episode_months")(records), errors="coerce")
    return (-months * DAYS_PER_MONTH).astype("Float64")


def in_current_episode(records: KnownRecords, rows: pd.DataFrame) -> pd.Series:
    """Per row of `rows`: True when it started in the current episode, False when before it,
    missing when its start day or the patient's episode length is not recorded."""
    start = rows["patient_id"].map(episode_start_day(records)).astype("Float64")
    return rows["start_day"].astype("Float64") >= start


def _always(rows: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=rows.index, dtype="boolean")


def _count(records: KnownRecords, rows: pd.DataFrame, counts: pd.Series) -> pd.Series:
    """How many `rows` per patient have `counts` True; missing when the history is not
    recorded or when a row's `counts` is unknown (it might have been counted)."""
    counts = counts.astype("boolean")
    n = per_patient(records, rows[counts.fillna(False)].groupby("patient_id").size(), fill=0)
    unsure = rows.loc[counts.isna(), "patient_id"].unique()
    unknown = ~history_recorded(records) | records.patient_ids.isin(unsure)
    return n.astype("Int64").mask(unknown.to_numpy())


def _flag(records: KnownRecords, rows: pd.DataFrame, counts: pd.Series) -> pd.Series:
    """1 when a row with `counts` True exists (shown, so known even in an unrecorded history);
    otherwise as `_count` > 0: 0 in a recorded history, missing when not recorded or unsure."""
    n = _count(records, rows, counts)
    shown = records.patient_ids.isin(rows.loc[counts.astype("boolean").fillna(False),
                                              "patient_id"])
    return (n > 0).astype("Int64").mask(shown, 1)


def prior_failed_trials(records: KnownRecords) -> pd.Series:
    """Failed adequate antidepressant trials in the current episode (trials).

    Unit: trials. Sources: treatments.treatment_class (antidepressant classes only),
    adequate_trial, outcome, start_day; patients.episode_months. A failure is an adequate trial
    (adequate_trial 1) with outcome none, partial or intolerant that started on or after
    -episode_months x 30.44 (TRD is defined on the current episode). A trial with an unknown
    outcome or no adequacy rating is not counted: the clinic could not say it failed.
    Benzodiazepines, ECT, TMS, psychotherapy and augmentation have their own features.
    Missing when no antidepressant trial is recorded, or when a failure cannot be placed in
    the episode (no start day or no episode length): 0 would be optimistic and counting every
    episode would overstate resistance.
    """
    t = records.treatments
    failed = t[t["treatment_class"].isin(ANTIDEPRESSANT_CLASSES)
               & (t["adequate_trial"] == 1).fillna(False).astype(bool)
               & t["outcome"].isin(FAILED_OUTCOMES)]
    return _count(records, failed, in_current_episode(records, failed))


def benzodiazepine_at_index(records: KnownRecords) -> pd.Series:
    """1 when a benzodiazepine is still taken on the index day (blunts ketamine response).

    Sources: treatments.treatment_class == benzodiazepine, ongoing_at_index. Missing when the
    history is not recorded and no ongoing benzodiazepine is listed, or when a listed one has
    no ongoing_at_index.
    """
    t = records.treatments
    benzo = t[t["treatment_class"] == "benzodiazepine"]
    ongoing = pd.to_numeric(benzo["ongoing_at_index"], errors="coerce").astype("Float64") == 1
    return _flag(records, benzo, ongoing)


def _episode_history(classes: tuple[str, ...]):
    """A 0/1 flag for `classes` started in the current episode."""
    def history(records: KnownRecords) -> pd.Series:
        t = records.treatments
        rows = t[t["treatment_class"].isin(classes)]
        return _flag(records, rows, in_current_episode(records, rows))
    return history


def _lifetime_history(classes: tuple[str, ...]):
    """A 0/1 flag for `classes` at any time before the prediction day."""
    def history(records: KnownRecords) -> pd.Series:
        t = records.treatments
        rows = t[t["treatment_class"].isin(classes)]
        return _flag(records, rows, _always(rows))
    return history


_UNRECORDED = " Missing when the treatment history is not recorded and none is listed."
ect_history = _episode_history(("ect",))
ect_history.__doc__ = ("1 when the patient has had ECT in the current episode. Source: "
                       "treatments." + _UNRECORDED)
augmentation_history = _episode_history(AUGMENTATION_CLASSES)
augmentation_history.__doc__ = (
    "1 when an antidepressant was augmented (antipsychotic or lithium) in the current episode. "
    "Source: treatments." + _UNRECORDED)
tms_history = _lifetime_history(("tms",))
tms_history.__doc__ = ("1 when the patient has had TMS before the index day. Source: "
                       "treatments." + _UNRECORDED)
psychotherapy_history = _lifetime_history(("psychotherapy",))
psychotherapy_history.__doc__ = ("1 when the patient has had psychotherapy. Source: "
                                 "treatments." + _UNRECORDED)
