"""Text that leaves the pipeline for people to open: spreadsheet formulas neutralised in CSV
files, HTML escaped in Markdown.

Labels, units, category and site names, raw cell values and run names come from configuration,
data and the tracking store, so whoever writes those can put text in front of a reviewer:

- **CSV** (OWASP "CSV injection"): a spreadsheet runs a cell that starts with `=`, `+`, `-` or
  `@` as a formula (`=cmd|' /C calc'!A0`, `@SUM(...)`, `=HYPERLINK(...)`), and a leading tab or
  carriage return can hide one. `neutralise_formulas` puts a single quote `'` in front of such
  a text cell, which spreadsheets show as text. Numbers are never touched: numeric columns are
  left alone, and a text cell that is a plain number (`-0.5`, `+3`, `1e-4`) keeps its sign, so
  CSVs the pipeline reads back round-trip. Applying it twice changes nothing.
- **Markdown** is rendered to HTML by its viewers (MLflow, GitHub, editors), so `<script>` or
  `<img onerror=...>` in a label becomes markup. `escape_markdown_text` turns `<`, `>` and `&`
  into entities (an entity already present, such as `&lt;`, is kept: escaping twice changes
  nothing) and, in a table cell, a pipe into `&#124;` and a line break into a space, so a value
  cannot end its cell or row. An ordinary label (no `<`, `>`, `&`, pipe or line break) is
  returned unchanged, so the committed demo outputs do not change.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from pipeline.core.atomic import write_text

# First characters a spreadsheet reads as the start of a formula (or that hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = re.compile("[" + re.escape("".join(FORMULA_STARTS)) + "]")
# A plain decimal number, optionally signed: left alone although it starts with + or -.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# An entity already in the text (kept as it is), or a character to escape.
_HTML = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});|[&<>]")
_HTML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c]")


def is_formula(text: str) -> bool:
    """Whether a spreadsheet could run `text` as a formula (see the module docstring)."""
    return bool(text) and _FORMULA.match(text) is not None and _NUMBER.fullmatch(text) is None


def neutralise_formula(value):
    """`value` with a leading `'` when it is text a spreadsheet would run; anything else as is."""
    return "'" + value if isinstance(value, str) and is_formula(value) else value


def _is_text(column: pd.Series) -> bool:
    dtype = column.dtype
    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype))


def _flagged(column: pd.Series) -> pd.Series:
    """Boolean mask of the string cells of a text column that a spreadsheet would run."""
    try:
        starts = column.str.match(_FORMULA, na=False).astype(bool)
    except AttributeError:  # an object column holding no strings at all
        return pd.Series(False, index=column.index)
    if starts.any():
        starts[starts] = ~column[starts].str.fullmatch(_NUMBER, na=False).astype(bool)
    return starts


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names cannot run as spreadsheet formulas.

    Only text columns (object, string, categorical) are looked at, and in them only the cells
    that are strings: numbers, missing values and numeric columns stay exactly as they were."""
    out = frame.copy(deep=False)
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if not _is_text(column):
            continue
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        flagged = _flagged(column)
        if flagged.any():
            column = column.astype(object)  # a copy: the caller's frame is never changed
            column[flagged] = "'" + column[flagged].astype(str)
            out.isetitem(position, column)
    out.columns = [neutralise_formula(c) for c in frame.columns]
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV text for people: formulas neutralised, no index, `\\n` line endings,
    empty cells for missing values (the project's CSV format, pipeline/core/tables.py).

    Python's CSV writer quotes a cell holding `\\n` but not one holding a bare `\\r` when rows
    end in `\\n`; spreadsheets and pandas end the row there, so the rest of the cell would be
    read as a new cell, formula and all. A table with such a cell is written with every text
    cell quoted (numbers still bare, so it reads back the same)."""
    safe = neutralise_formulas(frame)
    quoting = csv.QUOTE_NONNUMERIC if _has_carriage_return(safe) else csv.QUOTE_MINIMAL
    return safe.to_csv(index=False, lineterminator="\n", quoting=quoting)


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    if any(isinstance(c, str) and "\r" in c for c in frame.columns):
        return True
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if _is_text(column):
            try:
                if column.astype(object).str.contains("\r", regex=False, na=False).any():
                    return True
            except AttributeError:  # no strings in the column
                continue
    return False


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` as a CSV file a spreadsheet opens safely, in one rename (never torn)."""
    write_text(Path(path), csv_text(frame))


def escape_html_text(text: str) -> str:
    """`<`, `>` and `&` as HTML entities; an entity already in the text is kept as it is."""
    return _HTML.sub(lambda m: _HTML_ENTITIES.get(m.group(), m.group()), text)


def escape_markdown_text(value, *, table_cell: bool = True):
    """Text from configuration, data or the tracking store, safe to put in Markdown.

    HTML special characters become entities (a Markdown viewer then shows them as text); in a
    table cell (the default) a pipe becomes `&#124;` and any line break a space, so the value
    stays in its cell and row. Escaping twice gives the same text. Non-strings (numbers, None)
    are returned as they are."""
    if not isinstance(value, str):
        return value
    text = escape_html_text(value)
    if table_cell:
        text = _LINE_BREAK.sub(" ", text.replace("|", "&#124;"))
    return text
