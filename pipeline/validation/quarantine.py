"""Decide, for every row of every table, whether it passes or goes to quarantine.

Nothing is dropped and nothing is altered: each input row ends up either in the typed table
that the next stage reads or, whole and with its original text, in the quarantine table with
the checks it failed and a reason a person can read. Rows in = passed + quarantined, per table.
The one exception is for the reviewer's safety: the quarantine table is opened in spreadsheets,
so a text cell that a spreadsheet would run as a formula (starting with `=`, `@`, a tab, a
carriage return, or `+`/`-` when the cell is not a number) gets a leading `'`
(pipeline/core/escaping.py, OWASP "CSV injection").
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from pipeline.core.contract import Table
from pipeline.core.escaping import neutralise_formulas
from pipeline.core.schemas import complete_columns, empty_typed
from pipeline.validation import crosstable
from pipeline.validation.checks import combine, label, reason
from pipeline.validation.reading import RawTable
from pipeline.validation.rows import check_rows

CHILD_TABLES = ("treatments", "assessments", "sessions", "biomarkers")
TIMED_TABLES = ("assessments", "biomarkers")  # with the optional `timing` column


@dataclass(frozen=True)
class TableOutcome:
    name: str
    file: str | None          # None when an optional table was not supplied
    rows_in: int
    passed: pd.DataFrame      # typed, every contract column, contract order
    quarantined: pd.DataFrame # original text + source_line, failed_checks, reason
    failures: pd.DataFrame    # row, column, check: one line per failed check

    @property
    def quarantined_fraction(self) -> float:
        return len(self.quarantined) / self.rows_in if self.rows_in else 0.0


def _quarantine_frame(raw: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """The failing rows, unchanged but for formulas neutralised (a spreadsheet shows them as
    text), with where they came from and why they failed."""
    found = found.sort_values(["row", "column", "check"])
    found = found.assign(label=[label(c, k) for c, k in zip(found["column"], found["check"])],
                         reason=[reason(c, k) for c, k in zip(found["column"], found["check"])])
    per_row = found.groupby("row").agg(failed_checks=("label", "; ".join),
                                       reason=("reason", "; ".join))
    rows = raw.loc[per_row.index]
    # Line in the source file: the header is line 1 (exact for files without embedded newlines).
    return neutralise_formulas(rows.assign(
        source_line=per_row.index + 2, failed_checks=per_row["failed_checks"],
        reason=per_row["reason"]).reset_index(drop=True))


def validate_tables(raws: dict[str, RawTable], tables: dict[str, Table],
                    schemas: dict[str, pa.DataFrameSchema]) -> dict[str, TableOutcome]:
    """Row-level, then cross-table checks, then the split into passed and quarantined rows."""
    typed, found = {}, {}
    for name, raw in raws.items():
        typed[name], found[name] = check_rows(raw.frame, tables[name], schemas[name])

    found["patients"] = combine([found["patients"], crosstable.missing_day0(
        typed["patients"], typed.get("sessions"))])
    for name in TIMED_TABLES:
        if name in typed:
            copies = found[name].loc[found[name]["check"] == "duplicate_row", "row"]
            found[name] = combine([found[name], crosstable.post_dose_before_day0(
                typed[name], pd.Index(copies.unique()))])
    if "assessments" in typed:
        found["assessments"] = combine([found["assessments"], crosstable.conflicting_scores(
            typed["assessments"], pd.Index(found["assessments"]["row"].unique()))])

    patient_ids = raws["patients"].frame["patient_id"]
    known = pd.Index(patient_ids[patient_ids != ""].unique())
    rejected_rows = pd.Index(found["patients"]["row"].unique())
    accepted = known.isin(patient_ids.drop(index=rejected_rows).unique())
    for name in CHILD_TABLES:
        if name in raws:
            found[name] = combine([found[name], crosstable.parent_failures(
                raws[name].frame["patient_id"], known, accepted)])

    outcomes = {}
    for name, table in tables.items():
        if name not in raws:
            outcomes[name] = TableOutcome(name, None, 0, empty_typed(table), pd.DataFrame(),
                                          combine([]))
            continue
        raw = raws[name].frame
        bad = pd.Index(found[name]["row"].unique())
        passed = complete_columns(typed[name].drop(index=bad), table).reset_index(drop=True)
        outcomes[name] = TableOutcome(name, raws[name].file, len(raw), passed,
                                      _quarantine_frame(raw, found[name]), found[name])
    return outcomes
