"""Read the raw tables as text, exactly as written, refusing files the stage cannot trust.

Every cell is read as a string and an empty cell stays an empty string: nothing is converted,
trimmed or guessed here, so a quarantined row can be written back unchanged. A file must be
UTF-8 (with or without a byte-order mark) and comma-separated; anything else is refused with a
message that says what was found. Before a file is read it must be a regular, non-empty file
inside the raw folder (a symbolic link may point only inside it), a `.csv` must not be a
compressed or binary file, and a Parquet table may hold only plain values (no raw bytes).
"""
from __future__ import annotations

import csv
import io
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.validation.deid import column_finding
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
    # A link to nothing is a file the user gave, not an absent table: `_vet_file` explains it.
    found = [path for path in candidates if path.exists() or path.is_symlink()]
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
        raise StructuralError(ExitCode.UNREADABLE_FILE, [column_finding(
            file, repeated[0], header.index(repeated[0]) + 1,
            "the column name appears more than once", "Give every column a distinct name.")])


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
        _vet_file(path, folder)
        paths[name] = path
    return paths


# First bytes of files that are not CSV text -> (what the file is, what to do).
_NOT_TEXT = {
    b"\x1f\x8b": ("gzip-compressed", "Decompress it (gunzip, or 7-Zip on Windows) and put the "
                                     "plain .csv file in the folder."),
    b"BZh": ("bzip2-compressed", "Decompress it (bunzip2) and put the plain .csv file in the "
                                 "folder."),
    b"\xfd7zXZ\x00": ("xz-compressed", "Decompress it (unxz) and put the plain .csv file in the "
                                       "folder."),
    b"\x28\xb5\x2f\xfd": ("zstd-compressed", "Decompress it (unzstd) and put the plain .csv file "
                                             "in the folder."),
    b"PK\x03\x04": ("a ZIP archive (an Excel .xlsx workbook is one)",
                    "Unzip it, or open the workbook and save the sheet as 'CSV UTF-8 (Comma "
                    "delimited)'."),
    b"\xd0\xcf\x11\xe0": ("an Excel .xls workbook", "Open it and save the sheet as 'CSV UTF-8 "
                                                  "(Comma delimited)'."),
    b"PAR1": ("a Parquet file", "Rename it to end in .parquet."),
}
_SIGNATURE_BYTES = max(len(magic) for magic in _NOT_TEXT)


def _vet_file(path: Path, folder: Path) -> None:
    """Refuse, before reading, a table file the stage cannot or must not read: a link that
    leaves the raw folder, a folder or other non-file, an empty file, a compressed or binary
    file named .csv, and a Parquet file with raw-byte or nested columns."""
    target = _inside(path, folder)
    _plain_file(target, path.name)
    if path.suffix == ".parquet":
        _vet_parquet(target, path.name)
    else:
        _vet_csv_bytes(target, path.name)


def _inside(path: Path, folder: Path) -> Path:
    """The file `path` really is, refused when a link leads out of `folder` or to nothing."""
    # resolve() follows every link on the way (a link to a link, a linked parent), so what
    # is compared is the file that would really be read.
    target = path.resolve()
    if not target.is_relative_to(folder.resolve()):
        raise StructuralError.one(
            ExitCode.MISSING_INPUT, path.name, None,
            "the file is a symbolic link to a file outside the raw data folder; only files "
            "inside the folder are read",
            "Copy the file into the raw folder (a link to a file inside the folder is fine), or "
            "point --raw at the folder that holds it.")
    if not target.exists():
        raise StructuralError.one(
            ExitCode.MISSING_INPUT, path.name, None,
            "the file is a symbolic link to a file that does not exist",
            "Replace the link with the table file itself.")
    return target


def _plain_file(target: Path, file: str) -> None:
    """Refuse a folder, a pipe or device (reading it would fail, block or never end), and an
    empty file."""
    status = target.stat()
    if stat.S_ISDIR(status.st_mode):
        raise StructuralError.one(
            ExitCode.UNREADABLE_FILE, file, None, "this is a folder, not a file",
            f"Put the table itself in the raw folder as a file named {file} (move or rename "
            "the folder).")
    if not stat.S_ISREG(status.st_mode):
        raise StructuralError.one(
            ExitCode.UNREADABLE_FILE, file, None, "this is not a regular file",
            f"Put the table itself in the raw folder as a regular file named {file}.")
    if status.st_size == 0:
        raise StructuralError.one(
            ExitCode.UNREADABLE_FILE, file, None,
            "the file is empty (0 bytes): it has not even a header row",
            "Export the table again (a table without rows still needs its header row), or "
            "remove the file if the table is optional.")


def _vet_csv_bytes(path: Path, file: str) -> None:
    """Refuse a compressed or binary file named .csv (its bytes would otherwise be reported
    as a wrong text encoding)."""
    with path.open("rb") as handle:
        head = handle.read(_SIGNATURE_BYTES)
    for magic, (what, fix) in _NOT_TEXT.items():
        if head.startswith(magic):
            raise StructuralError.one(
                ExitCode.UNREADABLE_FILE, file, None, f"the file is {what}, not CSV text", fix)


def _vet_parquet(path: Path, file: str) -> None:
    """Refuse Parquet columns that hold raw bytes or nested values: the contract's cells are
    text or numbers, and bytes cannot be turned into text safely."""
    try:
        schema = pq.read_schema(path)
    except Exception:  # noqa: BLE001 - any failure here means the file cannot be used
        raise unreadable_parquet(file) from None
    for position, field in enumerate(schema, start=1):
        kind = field.type
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) \
                or pa.types.is_fixed_size_binary(kind):
            problem = "the column holds raw bytes (a binary column), not text or numbers"
        elif pa.types.is_nested(kind):
            problem = "the column holds lists or structures, not single text or number values"
        else:
            continue
        raise StructuralError(ExitCode.UNREADABLE_FILE, [column_finding(
            file, field.name, position, problem,
            "Store the column as text (UTF-8 strings) or numbers when writing the Parquet "
            "file, or provide the table as UTF-8 CSV instead.")])
