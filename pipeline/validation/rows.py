"""Row-level checks on one table: exact duplicate rows, unreadable cells, and the contract's
pandera schema (types, allowed values, ranges, required values, the patient-id rule and
unique `patient_id`, ignoring case).

Validation is lazy: pandera collects every failure of every row in one pass. Exact duplicates
are set aside first (the first copy is kept, the copies are quarantined): a copy carries no
information of its own, and counting it twice would double that patient's weight. They are
set aside before the schema runs so that an exact copy of a patient row does not also make
the kept row fail the unique-id check.

`treatments` is the exception: the contract records a treatment's class, not the drug, so two
genuinely different trials (two SSRIs, or two courses of psychotherapy, started the same day)
can share every field. Identical treatment rows are kept and counted in the report instead.
"""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from pipeline.core.contract import Table
from pipeline.validation.checks import CHECKS, combine, failures, no_failures
from pipeline.validation.parsing import parse_table


def _check_name(check: str, column: str, row_ranges: dict[str, str]) -> str:
    """Our name for a pandera check, as reported in `failure_cases`."""
    if check in CHECKS:  # the schema's own checks carry our names (the patient-id checks)
        return check
    if check == "not_nullable":
        return "required_value_missing"
    if check.startswith("isin"):
        return "not_allowed_value"
    if column in row_ranges:  # dataframe-level checks on a value whose range depends on a key
        key = row_ranges[column]
        return f"not_whole_for_{key}" if "whole" in check else f"out_of_range_for_{key}"
    return "out_of_range"


def schema_failures(typed: pd.DataFrame, schema: pa.DataFrameSchema, table: Table) -> pd.DataFrame:
    """Every schema failure of `typed` as (row, column, check); the raw index is the row."""
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return no_failures()
    cases = cases[cases["index"].notna()].copy()
    frame_level = cases["schema_context"] == "DataFrameSchema"
    # A dataframe-level check reports every column of a failing row; it concerns its value column.
    for value_column, key_column in table.row_ranges.items():
        mine = frame_level & cases["check"].str.startswith(value_column)
        cases.loc[mine, "column"] = value_column
    cases = cases.drop_duplicates(["index", "column", "check"])
    names = [_check_name(check, column, table.row_ranges)
             for check, column in zip(cases["check"], cases["column"], strict=True)]
    return pd.DataFrame({"row": cases["index"].astype("int64").to_numpy(),
                         "column": cases["column"].astype(str).to_numpy(), "check": names})


def check_rows(raw: pd.DataFrame, table: Table,
               schema: pa.DataFrameSchema) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(typed frame indexed like `raw`, row-level failures) for one table."""
    copies = raw.duplicated(keep="first")
    typed, parse_problems = parse_table(raw, table)
    unique_rows = typed[~copies]
    found = schema_failures(unique_rows, schema, table)
    # A cell that could not be read is already explained; its emptiness in `typed` is not news.
    read_problem_cells = pd.MultiIndex.from_frame(parse_problems[["row", "column"]])
    found = found[~pd.MultiIndex.from_frame(found[["row", "column"]]).isin(read_problem_cells)]
    duplicate = failures(raw.index[copies], "row", "duplicate_row")
    unread = parse_problems[~parse_problems["row"].isin(raw.index[copies])]
    return typed, combine([duplicate, unread, found])
