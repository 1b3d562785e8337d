"""pandera schemas for the contract tables, built from `contract.py` and the registries.

One schema per table checks a typed frame: column presence, types, allowed values, ranges,
nullability, the patient-id rule, unique `patient_id` in `patients` (ignoring case), and ranges
that depend on another column of the same row (a score's range depends on its instrument).
Cross-table rules are the validate stage's job.
"""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from pipeline.core.contract import Column, Table, breaks_id_rule, contract_tables, patient_key
from pipeline.core.registries import Registries

# Nullable pandas dtypes keep integers integral when a cell is empty.
_DTYPES = {
    "id": "str",
    "text": "str",
    "category": "str",
    "integer": "Int64",
    "binary": "Int64",
    "number": "Float64",
}


def _column_checks(column: Column) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if column.levels is not None:
        checks.append(pa.Check.isin(list(column.levels)))
    if column.kind == "binary":
        checks.append(pa.Check.isin([0, 1]))
    if column.min is not None:
        checks.append(pa.Check.gt(column.min) if column.min_exclusive
                      else pa.Check.ge(column.min))
    if column.max is not None:
        checks.append(pa.Check.le(column.max))
    if column.kind == "id":
        checks.append(_id_rule_check())
    return checks


# The two id checks carry the validate stage's own check names (pipeline/validation/checks.py),
# so a failure is reported under the name a person reads. (No `error=` text: pandera would
# report it in place of the name.)
def _id_rule_check() -> pa.Check:
    """Every id follows the patient-id rule (contract.PATIENT_ID_RULE)."""
    return pa.Check(lambda ids: ~breaks_id_rule(ids), name="invalid_patient_id")


def _unique_id_check() -> pa.Check:
    """No two rows share an id, ignoring case; every copy fails (the right one is unknown)."""
    return pa.Check(lambda ids: ~patient_key(ids).duplicated(keep=False),
                    name="duplicate_patient_id")


def _row_range_check(value_column: str, key_column: str,
                     ranges: dict[str, tuple[float, float]]) -> pa.Check:
    """`value_column` must lie in the range registered for this row's `key_column`."""
    lows = {key: lo for key, (lo, _) in ranges.items()}
    highs = {key: hi for key, (_, hi) in ranges.items()}

    def within(frame: pd.DataFrame) -> pd.Series:
        lo = frame[key_column].map(lows).astype("Float64")
        hi = frame[key_column].map(highs).astype("Float64")
        value = frame[value_column]
        # Rows with an unknown key fail their own `isin` check, and an empty value its
        # nullability check; do not report them twice.
        known = lo.notna() & value.notna()
        return (~known | ((value >= lo) & (value <= hi))).fillna(False).astype(bool)

    return pa.Check(within, name=f"{value_column}_in_range_for_{key_column}",
                    error=f"{value_column} outside the registered range for its {key_column}")


def _row_whole_check(value_column: str, key_column: str, whole_keys: list[str]) -> pa.Check:
    """`value_column` must be a whole number where this row's `key_column` says so."""

    def whole(frame: pd.DataFrame) -> pd.Series:
        value = frame[value_column]
        applies = frame[key_column].isin(whole_keys) & value.notna()
        return (~applies | (value == value.round())).fillna(False).astype(bool)

    return pa.Check(whole, name=f"{value_column}_whole_for_{key_column}",
                    error=f"{value_column} must be a whole number for its {key_column}")


def table_schema(table: Table, registries: Registries) -> pa.DataFrameSchema:
    columns = {
        c.name: pa.Column(
            _DTYPES[c.kind], checks=_column_checks(c) + (
                [_unique_id_check()] if c.kind == "id" and table.name == "patients" else []),
            nullable=not (c.required and not c.nullable), required=c.required, coerce=True,
        )
        for c in table.columns
    }
    checks = []
    for value_column, key_column in table.row_ranges.items():
        registry = registries.instruments if key_column == "instrument" else registries.biomarkers
        ranges = {key: (item.min, item.max) for key, item in registry.items()}
        checks.append(_row_range_check(value_column, key_column, ranges))
        whole_keys = [key for key, item in registry.items() if getattr(item, "integer", False)]
        if whole_keys:
            checks.append(_row_whole_check(value_column, key_column, whole_keys))
    return pa.DataFrameSchema(columns, checks=checks, strict=True, name=table.name)


def contract_schemas(registries: Registries) -> dict[str, pa.DataFrameSchema]:
    return {name: table_schema(t, registries) for name, t in contract_tables(registries).items()}


def complete_columns(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """`frame` with every contract column of `table`, in contract order; a column the site did
    not supply is added empty, with its contract dtype, so later stages see one fixed shape."""
    columns = {
        c.name: frame[c.name] if c.name in frame.columns
        else pd.Series(pd.NA, index=frame.index, dtype=_DTYPES[c.kind])
        for c in table.columns
    }
    return pd.DataFrame(columns, index=frame.index)


def empty_typed(table: Table) -> pd.DataFrame:
    """A table with no rows and the contract's columns and dtypes (an absent optional table)."""
    return complete_columns(pd.DataFrame(index=pd.RangeIndex(0)), table)
