"""Whole-table checks that stop the stage: missing or undeclared columns, empty tables."""
from __future__ import annotations

from pipeline.core.contract import Table
from pipeline.validation.deid import column_finding
from pipeline.validation.errors import ExitCode, Finding, StructuralError
from pipeline.validation.reading import RawTable


def check_structure(raws: dict[str, RawTable], tables: dict[str, Table]) -> None:
    """Raise for the first class of problem found, listing every instance of it."""
    missing, extra, empty = [], [], []
    for name, raw in raws.items():
        table = tables[name]
        for column in table.columns:
            if column.required and column.name not in raw.frame.columns:
                missing.append(Finding(
                    raw.file, column.name, "a required column is missing",
                    f"Add the column '{column.name}' ({column.description}); "
                    "see docs/data-contract.md."))
        for position, column in enumerate(raw.frame.columns, start=1):
            if column not in table.column_names:
                # The gate has refused identifying names already; this names a column by
                # position too when its name looks like one, so no path can echo it.
                extra.append(column_finding(
                    raw.file, column, position, "the column is neither in the data contract nor "
                    "declared in configs/covariates.yaml",
                    "Remove the column, fix its name if it is a contract column misspelt, or "
                    "declare it in configs/covariates.yaml (patients only)."))
        if table.required and raw.frame.empty:
            empty.append(Finding(
                raw.file, None, f"the required table '{name}' has a header but no rows",
                "Export the table with its rows; the pipeline cannot run without them."))
    for code, found in ((ExitCode.MISSING_COLUMN, missing),
                        (ExitCode.UNDECLARED_COLUMN, extra), (ExitCode.EMPTY_TABLE, empty)):
        if found:
            raise StructuralError(code, found)
