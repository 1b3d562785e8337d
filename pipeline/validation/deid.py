"""De-identification gate (HIPAA Safe Harbor), run on the raw text before anything is written.

It refuses tables whose column names or contents look like direct identifiers, calendar dates,
ages over 89 that are not top-coded to 90, or free text, also when the identifier hides inside a
longer token (`site_123-45-6789`). Findings name the table, the column and the reason, never a
value; a column whose name itself looks like an identifier is named by its position instead.
Pattern matching cannot prove data de-identified: what the gate cannot know is listed in
docs/validation.md.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.core.contract import AGE_TOP_CODE, Table
from pipeline.validation.errors import ExitCode, Finding, StructuralError

if TYPE_CHECKING:  # reading.py imports this module to name columns safely
    from pipeline.validation.reading import RawTable

_NUMERIC_KINDS = {"integer", "number", "binary"}

# Column-name words, matched against the name split on anything that is not a letter or digit.
_NAME_WORDS: dict[str, set[str]] = {
    "a person's name": {"name", "names", "firstname", "lastname", "surname", "forename",
                        "fullname", "initials", "middlename"},
    "an address": {"address", "addr", "street", "city", "town", "county", "residence"},
    "a ZIP or postal code": {"zip", "zipcode", "postcode", "postal"},
    "a phone or fax number": {"phone", "telephone", "tel", "mobile", "cell", "fax"},
    "an e-mail address": {"email", "mail"},
    "a social security number": {"ssn"},
    "a medical record number": {"mrn", "chart"},
    "a URL": {"url", "website", "homepage"},
    "an IP address": {"ip", "ipaddress"},
    "a calendar date": {"date", "dates", "dob", "birthdate", "birthday", "birth", "datetime",
                        "timestamp", "admission", "admitted", "discharge", "discharged", "death"},
    "free text": {"note", "notes", "comment", "comments", "remark", "remarks", "narrative",
                  "freetext", "memo", "text"},
    "another Safe Harbor identifier": {"license", "licence", "account", "vin", "serial",
                                       "photo", "fingerprint", "insurance", "beneficiary"},
}
_NAME_PHRASES = {"social_security": "a social security number",
                 "medical_record": "a medical record number",
                 "record_number": "a medical record number"}

# Content patterns, matched case-insensitively against each distinct cell value, anywhere in it:
# an identifier hidden inside a longer token (`site_123-45-6789`, `ssn123456789`) counts. So a
# number is delimited by "no digit next to it" rather than by `\b`, which `_` or a letter
# defeats (`_` is a word character: `\b\d{3}` does not match in `site_123`).
def _number(body: str) -> str:
    """`body`, not preceded or followed by another digit."""
    return rf"(?<!\d)(?:{body})(?!\d)"


_LONG_RUN = "long runs of digits (social security, phone or record numbers)"
_YYYYMMDD = r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"  # 1900-2099
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_ALWAYS = {
    "e-mail addresses": r"[\w.+-]+@[\w-]+\.[\w.-]+",
    # With separators anywhere; without them only after "ssn" (any other 9-digit run is
    # caught as a long run of digits below).
    "social security numbers": _number(r"\d{3}-\d{2}-\d{4}")
                               + r"|ssn[\W_]*\d{3}[\s.-]?\d{2}[\s.-]?\d{4}(?!\d)",
    "phone or fax numbers": r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|(?<!\d)\d{3}[\s.-])"
                            r"\d{3}[\s.-]\d{4}(?!\d)",
    # A scheme (`https://`, `ftp://`), a scheme-less `//host/path`, `www.` or a common domain.
    "URLs": r"[a-z][a-z0-9+.-]*://|//[\w-]+(?:\.[\w-]+)*(?::\d+)?/"
            r"|(?<![a-z0-9])www\.|[\w-]\.(?:com|org|net|edu|gov|io)(?![a-z0-9])",
    "IP addresses": _number(r"\d{1,3}(?:\.\d{1,3}){3}"),
    "calendar dates": (_number(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")
                       + "|" + _number(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
                       + "|" + _number(_YYYYMMDD)  # compact: 20240305
                       + rf"|(?<![a-z]){_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}(?!\d)"
                       + rf"|(?<!\d)\d{{1,2}}\s+{_MONTH}\s+\d{{4}}(?!\d)"),
    "medical record numbers": r"(?<![a-z])mrn[\W_]*\d+",
    # 9 digits is an SSN written without separators, 10 or more a phone number or a long
    # record number. Pseudonymous ids may carry shorter counters (`pt-0001234`); labels may not.
    _LONG_RUN: r"\d{9,}",
    "street addresses": (r"\b\d+\s+(?:[a-z]+\s+){1,4}(?:street|st|avenue|ave|road|rd|boulevard"
                         r"|blvd|lane|ln|drive|court|ct|way|place|pl)\b|\bp\.?\s?o\.?\s+box\b"),
}
# Only in text and label columns: a number column legitimately holds 5-digit numbers.
_TEXT_ONLY = {
    "ZIP codes": r"^\d{5}(?:-\d{4})?$",
    "person names": r"\b(?:mr|mrs|ms|miss|dr|prof)\.?\s+[a-z]+|^[a-z]+,\s+[a-z]+$",
    # A label (a site, a category) has no use for a record-number-length run of digits.
    _LONG_RUN: r"\d{7,}",
}
_ID_ONLY = {"medical record numbers (long runs of digits)": r"^\d{7,}$"}
# A value of a number column that reads as a plain number is checked only for the two shapes an
# identifier takes as a number: a long whole number (an SSN, phone or record number stored as
# a number) and a compact date. No contract column holds such values (days, scores, doses and
# measurements are far smaller), while 5-digit values, decimals and negative days are fine.
_WHOLE = r"(?:\.0*)?"  # `123456789.0`: a whole number written by a float export
_PLAIN_NUMBER_ONLY = {
    _LONG_RUN: rf"^\+?\d{{9,}}{_WHOLE}$",
    "calendar dates": rf"^{_YYYYMMDD}{_WHOLE}$",
}
_SMALLEST_SHAPE = 19_000_101
_FREE_TEXT_WORDS, _FREE_TEXT_CHARS = 5, 80


def _patterns(kind: str | None) -> dict[str, str]:
    """The content patterns for a column of `kind` (None: a column the contract does not know),
    applied to values that do not read as plain numbers."""
    patterns = dict(_ALWAYS)
    if kind not in _NUMERIC_KINDS:
        patterns |= _TEXT_ONLY
    if kind == "id":
        patterns |= _ID_ONLY | {_LONG_RUN: _ALWAYS[_LONG_RUN]}  # ids may hold 7-digit counters
    return patterns


# What a value must contain before the slowest patterns can match it (each is implied by every
# alternative of its pattern). Pseudonymous ids, levels and numbers rarely do, so the full
# pattern runs on few values: this keeps the gate's time on millions of ids near what it was
# before it looked inside tokens.
_NEEDS = {
    "URLs": r"[/.]",
    "calendar dates": r"\d[-/.\s]|\d{8}|[a-z.]\s+\d",
}


def _hits(values: pd.Series, label: str, pattern: str) -> pd.Series:
    """Per value, whether the pattern called `label` matches it."""
    candidate = np.ones(len(values), dtype=bool)
    if label in _NEEDS:
        candidate = values.str.contains(_NEEDS[label], case=False, regex=True).to_numpy(bool)
    hit = np.zeros(len(values), dtype=bool)
    hit[candidate] = values[candidate].str.contains(pattern, case=False, regex=True)
    return pd.Series(hit, index=values.index)


def _matching(values: pd.Series, patterns: dict[str, str]) -> list[str]:
    return [label for label, pattern in patterns.items()
            if _hits(values, label, pattern).any()]


def _name_reasons(column: str) -> list[str]:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column).lower()
    words = set(re.split(r"[^a-z0-9]+", snake))
    reasons = [reason for reason, vocab in _NAME_WORDS.items() if words & vocab]
    joined = "_".join(w for w in re.split(r"[^a-z0-9]+", snake) if w)
    reasons += [reason for phrase, reason in _NAME_PHRASES.items() if phrase in joined]
    return sorted(set(reasons))


def _content_reasons(values: pd.Series, kind: str | None) -> list[str]:
    """Reasons the distinct non-empty `values` of one column look identifying."""
    if values.empty:
        return []
    reasons = []
    if kind in _NUMERIC_KINDS:
        number = pd.to_numeric(values, errors="coerce")
        # Both shapes are at least 19000101; the bulk of a number column is skipped cheaply.
        reasons += _matching(values[number >= _SMALLEST_SHAPE], _PLAIN_NUMBER_ONLY)
        values = values[number.isna()]
    reasons += _matching(values, _patterns(kind))
    if kind not in _NUMERIC_KINDS:
        words = values.str.split().str.len()
        if ((words >= _FREE_TEXT_WORDS) | (values.str.len() > _FREE_TEXT_CHARS)).any():
            reasons.append("free text")
    return list(dict.fromkeys(reasons))


def looks_identifying(values: pd.Series, kind: str | None) -> pd.Series:
    """Per value, whether any of the gate's content patterns for a column of this kind matches.
    The simulator uses it so that none of its random pseudonymous ids trips the gate."""
    hit = pd.Series(False, index=values.index)
    for label, pattern in _patterns(kind).items():
        hit |= _hits(values, label, pattern)
    return hit


def name_looks_identifying(column: str) -> bool:
    """Whether a column's name, read as a value, looks like an identifier (`123-45-6789`,
    `jane.doe@example.org`, `mrn_0012345678`): such a name is never printed."""
    return bool(_content_reasons(pd.Series([str(column)], dtype=str), None))


def column_reference(column: str, position: int) -> str:
    """How messages refer to a column: by its name, or by its position in the file (1 is the
    first) when the name itself looks like an identifier."""
    if name_looks_identifying(column):
        return f"column {position} (its name is not shown: it looks like an identifier)"
    return f"column '{column}'"


def column_finding(file: str, column: str, position: int, problem: str, fix: str) -> Finding:
    """A finding about the column at `position` (1 is the first), named unless its name
    looks like an identifier."""
    if not name_looks_identifying(column):
        return Finding(file, column, problem, fix)
    return Finding(file, None, f"{column_reference(column, position)}: {problem}", fix)


def _finding(raw: RawTable, column: str, problem: str, fix: str) -> Finding:
    position = list(raw.frame.columns).index(column) + 1
    return column_finding(raw.file, column, position, problem, fix)


def _age_finding(raw: RawTable, column: str) -> Finding | None:
    ages = pd.to_numeric(raw.frame[column], errors="coerce")
    if ((ages > AGE_TOP_CODE - 1) & (ages != AGE_TOP_CODE)).any():
        return _finding(raw, column,
                        f"ages above {AGE_TOP_CODE - 1} that are not top-coded to {AGE_TOP_CODE}",
                        f"Replace every age of {AGE_TOP_CODE} or more with {AGE_TOP_CODE} "
                        f"(HIPAA Safe Harbor).")
    return None


def find_identifiers(raw: RawTable, table: Table) -> list[Finding]:
    """Everything in one raw table that looks like an identifier; empty when it looks clean."""
    kinds = {c.name: c.kind for c in table.columns}
    findings: list[Finding] = []
    for column in raw.frame.columns:
        if name_looks_identifying(column):
            findings.append(_finding(
                raw, column, "the column name itself looks like an identifier",
                "Remove or rename the column before export; the pipeline needs no identifiers."))
        for reason in _name_reasons(column):
            findings.append(_finding(
                raw, column, f"the column name suggests {reason}",
                "Remove the column before export; the pipeline needs no identifiers."))
        values = pd.Series(raw.frame[column].unique(), dtype=str)
        values = values[values.str.strip() != ""]
        reasons = _content_reasons(values, kinds.get(column))
        if reasons:
            fix = ("Replace the ids with pseudonymous study ids (keep the key outside the "
                   "pipeline)." if kinds.get(column) == "id"
                   else "Remove these values (or the column) before export; days must be "
                        "relative to day 0, not calendar dates.")
            findings.append(_finding(raw, column, "some values look like " + ", ".join(reasons),
                                     fix))
        if column == "age_years" or "age" in re.split(r"[^a-z0-9]+", column.lower()):
            age = _age_finding(raw, column)
            if age is not None:
                findings.append(age)
    return findings


def deidentification_gate(raws: dict[str, RawTable], tables: dict[str, Table]) -> None:
    """Raise a StructuralError listing every finding in every table, or return quietly."""
    refuse_identifiers([f for name, raw in raws.items()
                        for f in find_identifiers(raw, tables[name])])


def refuse_identifiers(findings: list[Finding]) -> None:
    """Raise for the findings (each listed once, in order), or return quietly when none."""
    unique = list(dict.fromkeys(findings))
    if unique:
        raise StructuralError(ExitCode.IDENTIFIERS_FOUND, unique)
