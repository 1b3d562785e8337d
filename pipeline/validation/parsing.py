"""Turn a raw text table into typed columns, recording every cell that cannot be read.

Only an empty cell means "missing" (the contract's rule). Markers such as `N/A` are not
silently turned into missing values: the row is quarantined so that the site fixes its export,
and the reason says so. Whole-number kinds accept `36.0` (a Parquet or spreadsheet artefact
with the same meaning) but not `36.5`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.contract import Column, Table
from pipeline.validation.checks import combine, failures

MISSING_MARKERS = frozenset({
    "n/a", "na", "nan", "null", "none", "nil", "missing", "unknown", "not available", "-", "--",
    ".", "?", "#n/a", "#na", "#value!", "",
})
_WHOLE_KINDS = {"integer", "binary"}
_NUMERIC_KINDS = _WHOLE_KINDS | {"number"}
_LARGEST_WHOLE = 2.0 ** 53  # beyond this a float no longer holds every integer exactly


def _parse_column(text: pd.Series, column: Column) -> tuple[pd.Series, list[pd.DataFrame]]:
    empty = text == ""
    marker = ~empty & text.str.strip().str.lower().isin(MISSING_MARKERS)
    if column.levels is not None:
        marker &= ~text.isin(column.levels)  # a level that happens to read "unknown" is a value
    problems = [failures(text.index[marker], column.name, "missing_marker")]
    if column.kind not in _NUMERIC_KINDS:
        typed = text.where(~empty & ~marker).astype("str")
        return typed, problems

    number = pd.to_numeric(text.where(~empty & ~marker), errors="coerce").astype("float64")
    unreadable = ~empty & ~marker & (number.isna() | ~np.isfinite(number.fillna(0.0)))
    problems.append(failures(text.index[unreadable], column.name, "not_a_number"))
    number = number.where(~unreadable)
    if column.kind in _WHOLE_KINDS:
        fractional = number.notna() & ((number != np.floor(number)) |
                                       (number.abs() > _LARGEST_WHOLE))
        problems.append(failures(text.index[fractional], column.name, "not_an_integer"))
        return number.where(~fractional).astype("Int64"), problems
    return number.astype("Float64"), problems


def parse_table(raw: pd.DataFrame, table: Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(typed frame with the raw index, failures) for the contract columns present in `raw`."""
    typed: dict[str, pd.Series] = {}
    problems: list[pd.DataFrame] = []
    for column in table.columns:
        if column.name in raw.columns:
            typed[column.name], found = _parse_column(raw[column.name], column)
            problems += found
    return pd.DataFrame(typed, index=raw.index), combine(problems)
