"""Contract tables as files: writing a table as reproducible CSV, and reading the validated
patients' sites. Finding and decoding raw input files is the validate stage's business
(pipeline/validation/reading.py).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.core.atomic import write_text


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
