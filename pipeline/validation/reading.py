"""Read the raw tables as text, exactly as written, refusing files the stage cannot trust.

Every cell is read as a string and an empty cell stays an empty string: nothing is converted,
trimmed or guessed here, so a quarantined row can be written back unchanged. A file must be
UTF-8 (with or without a byte-order mark) and comma-separated; anything else is refused with a
message that says what was found.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.validation.errors import ExitCode, StructuralError

_BOM = b"\xef\xbb\xbf"
_OTHER_DELIMITERS = {";": "semicolons (;)", "\t": "tabs", "|": "pipes (|)"}
_RESAVE = ("Re-export it as UTF-8 CSV (in Excel: Save As > 'CSV UTF-8 (Comma delimited)'; "
           "in R: write.csv(..., fileEncoding = 'UTF-8')) and run again.")


@dataclass(frozen=True)
class RawTable:
    """A table as text: every cell a string, '' for an empty cell, rows in file order."""

    name: str
    file: str  # file name as given, for messages
    frame: pd.DataFrame


def find_table_file(folder: Path, table: str) -> Path | None:
    """`<table>.csv` or `<table>.parquet`; both at once is ambiguous and refused."""
    candidates = (folder / f"{table}.csv", folder / f"{table}.parquet")
    found = [path for path in candidates if path.exists()]
    if len(found) == 2:
        raise StructuralError.one(
            ExitCode.MISSING_INPUT, f"{table}.csv", None,
            f"both {table}.csv and {table}.parquet are present, so it is unclear which to use",
            "Keep exactly one file per table in the raw folder.")
    return found[0] if found else None


def _guess_encoding(data: bytes) -> str:
    """A name for what a non-UTF-8 file probably is, for the error message only."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    if b"\x00" in data[:4096]:
        return "UTF-16 or UTF-32 (no byte-order mark)"
    if re.search(rb"[\x80-\x9f]", data):
        try:
            data.decode("cp1252")
            return "Windows-1252"
        except UnicodeDecodeError:
            return "an unknown 8-bit encoding"
    return "Latin-1 (ISO-8859-1)"


def decode_utf8(data: bytes, file: str) -> str:
    """Text of a UTF-8 file (a leading byte-order mark is dropped); anything else is refused."""
    try:
        return data[len(_BOM):].decode("utf-8") if data.startswith(_BOM) else data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise StructuralError.one(
            ExitCode.WRONG_ENCODING, file, None,
            f"the file is not UTF-8; it looks like {_guess_encoding(data)} "
            f"(first byte that is not UTF-8 on line {line})", _RESAVE) from None


def check_delimiter(header_line: str, file: str) -> None:
    commas = header_line.count(",")
    for delimiter, described in _OTHER_DELIMITERS.items():
        if header_line.count(delimiter) > commas:
            raise StructuralError.one(
                ExitCode.WRONG_DELIMITER, file, None,
                f"columns are separated by {described}, not commas", _RESAVE)


def check_header(text: str, file: str) -> None:
    """Refuse a CSV whose first line is blank, uses another delimiter or repeats a name."""
    header_line = text.split("\n", 1)[0].rstrip("\r")
    if not header_line.strip():
        raise StructuralError.one(
            ExitCode.UNREADABLE_FILE, file, None, "the file is empty or starts with a blank line",
            "Write the header row (the column names) on the first line.")
    check_delimiter(header_line, file)
    header = next(csv.reader([header_line]))
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise StructuralError.one(
            ExitCode.UNREADABLE_FILE, file, repeated[0], "the column name appears more than once",
            "Give every column a distinct name.")


def malformed_rows(file: str, error: Exception) -> StructuralError:
    line = re.search(r"line (\d+)", str(error))
    where = f" (line {line.group(1)})" if line else ""
    return StructuralError.one(
        ExitCode.UNREADABLE_FILE, file, None,
        f"a row has more fields than the header{where}, or the quoting is broken",
        "Check that every row has as many commas as the header and that quotes are closed.")


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell a string; a short row's missing trailing cells become empty cells, like ",,"."""
    return frame.fillna("").astype(str)


def _read_csv(path: Path) -> pd.DataFrame:
    file = path.name
    text = decode_utf8(path.read_bytes(), file)
    check_header(text, file)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            na_filter=False, skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError) as error:
        raise malformed_rows(file, error) from None
    return as_text(frame)


def parquet_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A Parquet table's cells as the strings a CSV export would hold."""
    text = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")  # left as text for the de-identification gate
        text[str(column)] = values.astype("string").fillna("").astype(str)
    return pd.DataFrame(text, index=frame.index)


def unreadable_parquet(file: str) -> StructuralError:
    return StructuralError.one(
        ExitCode.UNREADABLE_FILE, file, None, "the file is not a readable Parquet file",
        "Re-export the table, or provide it as UTF-8 CSV instead.")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception:  # noqa: BLE001 - any failure here means the file cannot be used
        raise unreadable_parquet(path.name) from None
    return parquet_as_text(frame.reset_index(drop=True))


def read_table(path: Path, name: str) -> RawTable:
    frame = _read_parquet(path) if path.suffix == ".parquet" else _read_csv(path)
    return RawTable(name=name, file=path.name, frame=frame.reset_index(drop=True))


def read_raw_tables(folder: Path, required: dict[str, bool]) -> dict[str, RawTable]:
    """Every contract table present in `folder`; `required` maps table name -> required."""
    return {name: read_table(path, name)
            for name, path in locate_tables(folder, required).items()}


def locate_tables(folder: Path, required: dict[str, bool]) -> dict[str, Path]:
    """The file of every contract table present in `folder`; a missing required one stops."""
    if not folder.is_dir():
        raise StructuralError.one(
            ExitCode.MISSING_INPUT, str(folder), None, "the raw data folder does not exist",
            "Point --raw (data.raw_dir in configs/params.yaml) at the folder of tables.")
    paths: dict[str, Path] = {}
    for name, is_required in required.items():
        path = find_table_file(folder, name)
        if path is None:
            if is_required:
                raise StructuralError.one(
                    ExitCode.MISSING_INPUT, f"{name}.csv", None,
                    f"the required table '{name}' is missing from {folder}",
                    f"Add {name}.csv (or {name}.parquet); see docs/data-contract.md.")
            continue
        paths[name] = path
    return paths
