"""Split a raw folder into chunks of whole patients, so that any number of patients can be
validated, featurised and scored in bounded memory.

- Every row of a patient lands in the same chunk. All checks are per row or per patient
  (duplicates, day 0, conflicting ratings, orphans), so a chunk validates exactly as the whole
  folder would; tests compare the two row by row.
- Rows keep their position in the source file as the frame index, so a quarantined row still
  cites its original line.
- The de-identification gate and the structural checks see every row of every table during the
  split, before any chunk is handed out: a folder with an identifier is refused before anything
  is written, however large it is.
- Chunks follow the patients table: chunk k holds the k-th block of `chunk_patients` distinct
  patient ids in the order they first appear. Rows whose patient id is unknown or empty go to
  one chunk chosen from the id's hash; they are quarantined there as orphans or missing ids.

Files are read in pieces of READ_ROWS rows and each piece is written to a scratch folder as one
Parquet file per chunk it touches, so peak memory follows the piece and the chunk, not the file.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core.contract import Table, patient_key
from pipeline.validation.deid import find_identifiers, refuse_identifiers
from pipeline.validation.errors import ExitCode, StructuralError
from pipeline.validation.reading import (
    RawTable, as_text, check_header, decode_utf8, locate_tables, malformed_rows, parquet_as_text,
    unreadable_parquet)
from pipeline.validation.structure import check_structure

READ_ROWS = 500_000
_ROW = "_source_row"
_HEAD_BYTES = 1 << 16


def _csv_pieces(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    file = path.name
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    # Only the head is decoded here (a cut multi-byte character at its end is not an error);
    # the reader below decodes the rest strictly and a bad byte anywhere stops it.
    check_header(decode_utf8(head, file) if len(head) < _HEAD_BYTES
                 else head.decode("utf-8-sig", errors="ignore"), file)
    start = 0
    try:
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                             skip_blank_lines=True, encoding="utf-8-sig", chunksize=rows)
        for piece in reader:
            piece.index = pd.RangeIndex(start, start + len(piece))
            start += len(piece)
            yield as_text(piece)
    except UnicodeDecodeError:
        raise StructuralError.one(
            ExitCode.WRONG_ENCODING, file, None,
            f"the file is not UTF-8 (a byte that is not UTF-8 appears after row {start:,})",
            "Re-export it as UTF-8 CSV and run again.") from None
    except (pd.errors.ParserError, ValueError) as error:
        raise malformed_rows(file, error) from None


def _parquet_pieces(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    try:
        source = pq.ParquetFile(path)
        columns = source.schema_arrow.names
        start = 0
        for batch in source.iter_batches(batch_size=rows):
            piece = batch.to_pandas()
            piece.index = pd.RangeIndex(start, start + len(piece))
            start += len(piece)
            yield parquet_as_text(piece)
    except StructuralError:
        raise
    except Exception:  # noqa: BLE001 - any failure here means the file cannot be used
        raise unreadable_parquet(path.name) from None
    if start == 0:
        yield pd.DataFrame(columns=columns, dtype=str)


def read_pieces(path: Path, rows: int = READ_ROWS) -> Iterator[pd.DataFrame]:
    """A raw table as text, `rows` rows at a time; the index is the row's position in the file.
    A file with a header and no rows gives one empty piece with its columns."""
    pieces = _parquet_pieces(path, rows) if path.suffix == ".parquet" else _csv_pieces(path, rows)
    empty = True
    for piece in pieces:
        empty = False
        yield piece
    if empty:  # read_csv yields nothing for a header-only file
        yield pd.read_csv(path, dtype=str, nrows=0, encoding="utf-8-sig")


@dataclass(frozen=True)
class Partition:
    """The raw folder split into `n_chunks` scratch folders of whole patients."""

    scratch: Path
    files: dict[str, str]           # table -> file name as given, for messages
    columns: dict[str, list[str]]   # table -> header
    rows_in: dict[str, int]         # table -> rows read
    patient_ids: pd.Index           # distinct non-empty ids of `patients`, first-seen order
    chunk_patients: int

    @functools.cached_property
    def patient_keys(self) -> pd.Index:
        """Distinct `patient_key`s, first-seen order: ids equal but for case are one patient
        (the contract's rule), so they share a chunk and the duplicate check sees them both."""
        return pd.Index(patient_key(self.patient_ids.to_series()).unique())

    @property
    def n_chunks(self) -> int:
        return max(1, math.ceil(len(self.patient_keys) / self.chunk_patients))

    def chunk_of(self, ids: pd.Series) -> np.ndarray:
        """The chunk of each raw `patient_id`: its block, or a hashed chunk when unknown."""
        keys = patient_key(ids)
        position = self.patient_keys.get_indexer(keys)
        hashed = pd.util.hash_array(keys.to_numpy(dtype=object)) % np.uint64(self.n_chunks)
        return np.where(position >= 0, position // self.chunk_patients,
                        hashed.astype(np.int64))

    def raw_tables(self, chunk: int) -> dict[str, RawTable]:
        """The rows of one chunk, as `read_raw_tables` would give them for these patients."""
        tables = {}
        for name, file in self.files.items():
            paths = sorted((self.scratch / name).glob(f"{chunk:06d}-*.parquet"))
            if paths:
                frame = pd.concat([pd.read_parquet(p) for p in paths])
                frame = frame.set_index(_ROW).rename_axis(None)
            else:
                frame = pd.DataFrame(columns=self.columns[name], dtype=str)
            tables[name] = RawTable(name=name, file=file, frame=frame)
        return tables


def _write_piece(piece: pd.DataFrame, chunks: np.ndarray, folder: Path, number: int) -> None:
    order = np.argsort(chunks, kind="stable")
    ordered = piece.iloc[order].reset_index(names=_ROW)
    sorted_chunks = chunks[order]
    bounds = np.flatnonzero(np.diff(sorted_chunks)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(ordered)]):
        part = pa.Table.from_pandas(ordered.iloc[start:stop], preserve_index=False)
        pq.write_table(part, folder / f"{int(sorted_chunks[start]):06d}-{number:06d}.parquet")


def _ungated(piece: pd.DataFrame, layout: Partition) -> pd.DataFrame:
    """The piece as the gate needs to see it: ids of the patients table were checked there,
    so they are blanked here (the gate skips empty cells) instead of checked once per table."""
    if "patient_id" not in piece.columns:
        return piece
    known = layout.patient_keys.get_indexer(patient_key(piece["patient_id"])) >= 0
    return piece.assign(patient_id=piece["patient_id"].where(~known, ""))


def partition(folder: Path, tables: dict[str, Table], scratch: Path,
              chunk_patients: int, read_rows: int = READ_ROWS) -> Partition:
    """Read every table once, run the gate and the structural checks on all of it, and write
    each patient's rows to their chunk under `scratch`. Raises `StructuralError` like
    `validate_folder` does (identifiers first, then structure)."""
    if chunk_patients < 1:
        raise ValueError("chunk_patients must be at least 1")
    paths = locate_tables(folder, {name: t.required for name, t in tables.items()})
    findings, heads, rows_in = [], {}, {}

    ids = []
    for piece in read_pieces(paths["patients"], read_rows):
        findings += find_identifiers(RawTable("patients", paths["patients"].name, piece),
                                     tables["patients"])
        heads.setdefault("patients", piece)
        if "patient_id" in piece.columns:
            ids.append(piece["patient_id"])
    known = pd.Series(pd.concat(ids).unique() if ids else [], dtype=object)
    layout = Partition(scratch, {n: p.name for n, p in paths.items()}, {}, {},
                       pd.Index(known[known != ""]), chunk_patients)

    for name, path in paths.items():
        (scratch / name).mkdir(parents=True, exist_ok=True)
        rows_in[name] = 0
        for number, piece in enumerate(read_pieces(path, read_rows)):
            if name != "patients":
                findings += find_identifiers(RawTable(name, path.name, _ungated(piece, layout)),
                                             tables[name])
            heads.setdefault(name, piece)
            rows_in[name] += len(piece)
            if len(piece) and "patient_id" in piece.columns:
                _write_piece(piece, layout.chunk_of(piece["patient_id"]), scratch / name, number)
    refuse_identifiers(findings)
    check_structure({name: RawTable(name, paths[name].name, head)
                     for name, head in heads.items()}, tables)
    return Partition(scratch, layout.files, {n: list(h.columns) for n, h in heads.items()},
                     rows_in, layout.patient_ids, chunk_patients)
