"""Structural errors: problems with a whole file that stop the validate stage.

Row-level problems never raise; they send rows to quarantine. A structural error names the
file, the column where there is one, and what to do, and carries the exit code a script can
test. `pipeline/validate.py` prints it and exits without a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of `txresponse validate` (docs/validation.md lists them for users).

    2 is left to the command-line parser (a wrong option) and other user errors, 70 to
    unexpected crashes (pipeline/cli.py).
    """

    OK = 0
    MISSING_INPUT = 10        # raw folder or a required table is missing, or a table is ambiguous
    UNREADABLE_FILE = 11      # not a readable CSV/Parquet file, malformed rows, repeated header
    WRONG_ENCODING = 12       # not UTF-8 (a UTF-8 byte-order mark is fine)
    WRONG_DELIMITER = 13      # semicolons, tabs or pipes instead of commas
    MISSING_COLUMN = 14       # a required column is absent
    UNDECLARED_COLUMN = 15    # a column neither in the contract nor in configs/covariates.yaml
    EMPTY_TABLE = 16          # a required table has a header but no rows
    IDENTIFIERS_FOUND = 20    # de-identification gate: names, dates, contacts, old ages, free text
    TOO_MUCH_QUARANTINED = 30 # a table's quarantined share exceeds validate.max_quarantine_fraction


@dataclass(frozen=True)
class Finding:
    """One problem: where it is and what the user should do. Never holds a patient value."""

    file: str
    column: str | None
    problem: str
    fix: str

    def __str__(self) -> str:
        where = self.file if self.column is None else f"{self.file}, column '{self.column}'"
        return f"{where}: {self.problem}\n    what to do: {self.fix}"


class StructuralError(Exception):
    """A problem with a whole file; stops the stage with `code`."""

    def __init__(self, code: ExitCode, findings: list[Finding]):
        self.code = code
        self.findings = list(findings)
        super().__init__(str(self))

    @classmethod
    def one(cls, code: ExitCode, file: str, column: str | None, problem: str,
            fix: str) -> StructuralError:
        return cls(code, [Finding(file, column, problem, fix)])

    def __str__(self) -> str:
        return "\n".join(str(f) for f in self.findings)
