"""Corrupt a clean simulated cohort the way real clinic exports go wrong, for showing and
testing the validate stage (`txresponse simulate --messy`).

Every corruption is a row-level problem that the validate stage quarantines: text in a number
column, missing-value markers, empty required cells, out-of-range values, levels in the wrong
case, duplicate ids, exact duplicate rows, conflicting same-day scores, orphan rows and a
missing day-0 session. None adds an identifier, a date or a structural problem, so the
de-identification gate passes and the quarantine and report can be seen. Draws come from
their own seeded stream, so the clean cohort is unchanged and the same seed gives the same
bytes.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

# Share of a table's rows hit by each kind of corruption: small enough that every table stays
# well under the default validate.max_quarantine_fraction of 0.2, cascades included.
_SHARE = 0.004


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The table exactly as it would be written to CSV, every cell a string."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=str, keep_default_na=False, na_filter=False)


class _Corrupter:
    def __init__(self, tables: dict[str, pd.DataFrame], seed: int):
        self.tables = {name: as_text(t) for name, t in tables.items()}
        self.rng = np.random.default_rng([seed, 3])  # a stream of its own: clean cohort unchanged
        self.extra: dict[str, list[tuple[int, pd.DataFrame]]] = {n: [] for n in self.tables}

    def _pick(self, name: str, mask: pd.Series | None = None) -> np.ndarray:
        frame = self.tables[name]
        pool = frame.index[mask] if mask is not None else frame.index
        k = max(1, round(_SHARE * len(frame)))
        return self.rng.choice(pool, size=min(k, len(pool)), replace=False)

    def set_cells(self, name: str, column: str, values, mask: pd.Series | None = None) -> None:
        """Overwrite `column` on a few rows; `values` is a string or a function of the rows."""
        rows = self._pick(name, mask)
        frame = self.tables[name]
        frame.loc[rows, column] = values(frame.loc[rows]) if callable(values) else values

    def numeric(self, name: str, column: str) -> pd.Series:
        """Rows whose `column` still holds a number (not hit by an earlier corruption)."""
        return pd.to_numeric(self.tables[name][column], errors="coerce").notna()

    def add_copies(self, name: str, change=None, mask: pd.Series | None = None) -> None:
        """Insert a copy of a few rows right after the original, optionally changed."""
        rows = self._pick(name, mask)
        copies = self.tables[name].loc[rows].copy()
        if change is not None:
            copies = change(copies)
        self.extra[name].append((rows, copies))

    def result(self) -> dict[str, pd.DataFrame]:
        out = {}
        for name, frame in self.tables.items():
            parts = [frame.assign(_order=frame.index.to_numpy(dtype=float))]
            for rows, copies in self.extra[name]:
                parts.append(copies.assign(_order=np.asarray(rows, dtype=float) + 0.5))
            merged = pd.concat(parts).sort_values("_order", kind="stable")
            out[name] = merged.drop(columns="_order").reset_index(drop=True)
        return out


def _shift(column: str, by: int):
    return lambda rows: rows.assign(**{column: (rows[column].astype(float) + by)
                                       .map(lambda v: f"{v:g}")})


def make_messy(tables: dict[str, pd.DataFrame], seed: int,
               instrument_max: dict[str, float]) -> dict[str, pd.DataFrame]:
    """Text tables with realistic row-level faults; `instrument_max` gives each scale's top."""
    c = _Corrupter(tables, seed)
    patients = c.tables["patients"]
    c.set_cells("patients", "age_years", "forty")                       # text in a number
    c.set_cells("patients", "bmi", "N/A", patients["bmi"] != "")         # missing marker
    c.set_cells("patients", "sex", "F")                                  # level not in contract
    c.set_cells("patients", "age_years", "17")                           # below the adult range
    c.add_copies("patients", _shift("bmi", 3), c.numeric("patients", "bmi"))  # duplicate id

    assessments = c.tables["assessments"]
    c.set_cells("assessments", "score", "N/A")
    c.set_cells("assessments", "score", "")                              # empty required cell
    c.set_cells("assessments", "score", "thirty")
    c.set_cells("assessments", "score", lambda rows: [
        f"{instrument_max[i] + 7:g}" for i in rows["instrument"]])       # above the scale's top
    c.set_cells("assessments", "day", "7.5", assessments["day"] != "")   # not a whole day
    c.add_copies("assessments")                                          # exact duplicate rows
    c.add_copies("assessments", lambda rows: rows.assign(
        score=(rows["score"].astype(float) - 3).clip(lower=0).map(lambda v: f"{v:g}")),
        c.numeric("assessments", "score") & (assessments["score"].astype(str) != "0"))
    c.add_copies("assessments", lambda rows: rows.assign(
        patient_id=[f"pt-orphan{i:03d}" for i in range(len(rows))]))    # orphan rows

    sessions = c.tables["sessions"]
    c.set_cells("sessions", "route", "IV")                               # wrong case
    c.set_cells("sessions", "dose", "0")                                 # dose must be > 0
    day0 = sessions.index[sessions["day"] == "0"]
    dropped = c.rng.choice(day0, size=max(1, round(_SHARE * len(day0))), replace=False)
    c.tables["sessions"] = sessions.drop(index=dropped)                  # no day-0 session

    treatments = c.tables["treatments"]
    c.set_cells("treatments", "start_day", lambda rows: [
        str(c.rng.integers(1, 30)) for _ in range(len(rows))])           # starts after day 0
    c.set_cells("treatments", "treatment_class", "SSRI", treatments["treatment_class"] == "ssri")

    c.set_cells("biomarkers", "value", "-1")                             # below every range
    c.set_cells("biomarkers", "marker", "tsh_mu_l")                      # not in the registry
    c.add_copies("biomarkers")
    return c.result()
