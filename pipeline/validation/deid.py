"""De-identification gate (HIPAA Safe Harbor), run on the raw text before anything is written.

It refuses tables whose column names or contents look like direct identifiers, calendar dates,
ages over 89 that are not top-coded to 90, or free text. Findings name the table, the column
and the reason, never a value. Pattern matching cannot prove data de-identified: what the gate
cannot know is listed in docs/validation.md.
"""
from __future__ import annotations

import re

import pandas as pd

from pipeline.core.contract import AGE_TOP_CODE, Table
from pipeline.validation.errors import ExitCode, Finding, StructuralError
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

# Content patterns, matched case-insensitively against each distinct cell value.
_ALWAYS = {
    "e-mail addresses": r"[\w.+-]+@[\w-]+\.[\w.-]+",
    "social security numbers": r"\b\d{3}-\d{2}-\d{4}\b",
    "phone or fax numbers": (r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])"
                             r"\d{3}[\s.-]\d{4}\b"),
    "URLs": r"\bhttps?://|\bwww\.|\b[\w-]+\.(?:com|org|net|edu|gov|io)\b",
    "IP addresses": r"\b\d{1,3}(?:\.\d{1,3}){3}\b",
    "calendar dates": (r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"
                       r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
                       r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b"
                       r"|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)"
                       r"[a-z]*\.?\s+\d{4}\b"),
    "medical record numbers": r"\bmrn\s*[:#]?\s*\d+",
    "street addresses": (r"\b\d+\s+(?:[a-z]+\s+){1,4}(?:street|st|avenue|ave|road|rd|boulevard"
                         r"|blvd|lane|ln|drive|court|ct|way|place|pl)\b|\bp\.?\s?o\.?\s+box\b"),
}
_TEXT_ONLY = {  # only in text columns: a number column legitimately holds 5-digit numbers
    "ZIP codes": r"^\d{5}(?:-\d{4})?$",
    "person names": r"\b(?:mr|mrs|ms|miss|dr|prof)\.?\s+[a-z]+|^[a-z]+,\s+[a-z]+$",
}
_ID_ONLY = {"medical record numbers (long runs of digits)": r"^\d{7,}$"}
_FREE_TEXT_WORDS, _FREE_TEXT_CHARS = 5, 80


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
    patterns = dict(_ALWAYS)
    if kind in _NUMERIC_KINDS:
        # A plain number cannot be an e-mail or a date in these formats; skip the bulk cheaply.
        values = values[pd.to_numeric(values, errors="coerce").isna()]
    else:
        patterns |= _TEXT_ONLY
    if kind == "id":
        patterns |= _ID_ONLY
    reasons = [label for label, pattern in patterns.items()
               if values.str.contains(pattern, case=False, regex=True).any()]
    if kind not in _NUMERIC_KINDS:
        words = values.str.split().str.len()
        if ((words >= _FREE_TEXT_WORDS) | (values.str.len() > _FREE_TEXT_CHARS)).any():
            reasons.append("free text")
    return reasons


def looks_identifying(values: pd.Series, kind: str | None) -> pd.Series:
    """Per value, whether any of the gate's content patterns for a column of this kind matches.
    The simulator uses it so that none of its random pseudonymous ids trips the gate."""
    patterns = dict(_ALWAYS) | ({} if kind in _NUMERIC_KINDS else _TEXT_ONLY)
    patterns |= _ID_ONLY if kind == "id" else {}
    hit = pd.Series(False, index=values.index)
    for pattern in patterns.values():
        hit |= values.str.contains(pattern, case=False, regex=True)
    return hit


def _age_finding(raw: RawTable, column: str) -> Finding | None:
    ages = pd.to_numeric(raw.frame[column], errors="coerce")
    if ((ages > AGE_TOP_CODE - 1) & (ages != AGE_TOP_CODE)).any():
        return Finding(raw.file, column,
                       f"ages above {AGE_TOP_CODE - 1} that are not top-coded to {AGE_TOP_CODE}",
                       f"Replace every age of {AGE_TOP_CODE} or more with {AGE_TOP_CODE} "
                       f"(HIPAA Safe Harbor).")
    return None


def find_identifiers(raw: RawTable, table: Table) -> list[Finding]:
    """Everything in one raw table that looks like an identifier; empty when it looks clean."""
    kinds = {c.name: c.kind for c in table.columns}
    findings: list[Finding] = []
    for column in raw.frame.columns:
        for reason in _name_reasons(column):
            findings.append(Finding(
                raw.file, column, f"the column name suggests {reason}",
                "Remove the column before export; the pipeline needs no identifiers."))
        values = pd.Series(raw.frame[column].unique(), dtype=str)
        values = values[values.str.strip() != ""]
        reasons = _content_reasons(values, kinds.get(column))
        if reasons:
            fix = ("Replace the ids with pseudonymous study ids (keep the key outside the "
                   "pipeline)." if kinds.get(column) == "id"
                   else "Remove these values (or the column) before export; days must be "
                        "relative to day 0, not calendar dates.")
            findings.append(Finding(raw.file, column,
                                    "some values look like " + ", ".join(reasons), fix))
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
