"""Checks that look across rows and tables, run after the row-level checks.

- A patient with sessions but no day-0 session is rejected as a whole: day 0 is defined as the
  first session, so none of their days can be trusted. (Days are read from every session row
  whose day could be parsed, so a day-0 session with, say, a garbled dose still counts.)
- Ratings of one instrument on one day and at one timing with different scores are all
  quarantined: the stage cannot tell which is right. A pre-dose and a post-dose rating of the
  same day are two ratings, not a conflict; an unmarked rating counts as pre-dose. Only rows
  that passed the row-level checks take part, so an impossible score (quarantined already)
  does not drag a plausible one with it.
- A rating or sample marked `post_dose` before day 0 is impossible: day 0 is the first dose.
- A row whose `patient_id` is not in `patients` is an orphan; a row whose patient was
  quarantined from `patients` follows its parent into quarantine.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.contract import POST_DOSE
from pipeline.validation.checks import combine, failures


def _post_dose(frame: pd.DataFrame) -> pd.Series:
    """True where `timing` says post_dose; a table without the column has none."""
    if "timing" not in frame:
        return pd.Series(False, index=frame.index, dtype=bool)
    return frame["timing"].eq(POST_DOSE).fillna(False).astype(bool)


def missing_day0(patients: pd.DataFrame, sessions: pd.DataFrame | None) -> pd.DataFrame:
    """Failures for patients rows whose patient has sessions but none on day 0."""
    if sessions is None or not {"patient_id", "day"} <= set(sessions.columns):
        return combine([])
    dated = sessions[sessions["day"].notna() & sessions["patient_id"].notna()]
    with_day0 = dated.loc[dated["day"] == 0, "patient_id"].unique()
    lacking = pd.Index(dated["patient_id"].unique()).difference(pd.Index(with_day0))
    rows = patients.index[patients["patient_id"].isin(lacking)]
    return failures(rows, "patient_id", "no_day0_session")


def conflicting_scores(assessments: pd.DataFrame, failed_rows: pd.Index) -> pd.DataFrame:
    """Failures for every rating in a (patient, instrument, day, timing) group with different
    scores, where the timing is post-dose or not (unmarked counts as pre-dose)."""
    clean = assessments.drop(index=failed_rows, errors="ignore")
    clean = clean.assign(_post_dose=_post_dose(clean))
    keys = ["patient_id", "instrument", "day", "_post_dose"]
    distinct = clean.groupby(keys, dropna=False)["score"].transform("nunique")
    return failures(clean.index[distinct > 1], "score", "conflicting_scores")


def post_dose_before_day0(typed: pd.DataFrame, copies: pd.Index) -> pd.DataFrame:
    """Failures for ratings or samples marked post_dose on a day before the first dose. Exact
    copies of earlier rows (`copies`) are quarantined as such and not checked again, like the
    other row checks."""
    if "day" not in typed:
        return combine([])
    typed = typed.drop(index=copies, errors="ignore")
    early = _post_dose(typed) & (typed["day"] < 0).fillna(False).astype(bool)
    return failures(typed.index[early.to_numpy()], "timing", "post_dose_before_day0")


def parent_failures(child_ids: pd.Series, known_ids: pd.Index,
                    accepted: np.ndarray) -> pd.DataFrame:
    """Orphans and rows of rejected patients, from the raw `patient_id` text of a child table;
    `accepted[i]` says whether `known_ids[i]` passed."""
    # One hash lookup per row (into the known ids), then a lookup by position: three
    # `isin` passes over millions of child rows were a third of validating them.
    position = known_ids.get_indexer(child_ids)          # -1: not a known patient
    accepted = np.append(accepted, True)                 # [-1] answers for unknowns
    present = (child_ids != "").to_numpy()
    orphan = present & (position < 0)
    rejected = present & ~accepted[position]
    return combine([failures(child_ids.index[orphan], "patient_id", "orphan_patient"),
                    failures(child_ids.index[rejected], "patient_id", "parent_patient_rejected")])
