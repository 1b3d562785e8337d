"""Reading and writing contract tables as files.

Input is a folder with one file per table: `<table>.csv` (UTF-8, header row) or, instead, a
Parquet file with the same stem. Decoding problems are the validate stage's business; this
module only finds and writes files.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.core.atomic import write_text


def table_path(folder: Path, table: str) -> Path | None:
    """The file holding `table` in `folder`, preferring CSV; None when the table is absent."""
    for suffix in (".csv", ".parquet"):
        candidate = folder / f"{table}{suffix}"
        if candidate.exists():
            return candidate
    return None


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a table byte-for-byte reproducibly: fixed column order, `\\n` line endings,
    empty cells for missing values."""
    write_text(path, frame.to_csv(index=False, lineterminator="\n"))


def read_sites(validated: Path) -> pd.Series | None:
    """Each validated patient's site (indexed by patient_id), or None when the cohort has no
    `site` column (a single clinic need not export one)."""
    patients = pd.read_parquet(validated / "patients.parquet")
    if "site" not in patients or patients["site"].isna().all():
        return None
    return patients.set_index("patient_id")["site"]
