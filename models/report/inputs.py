"""Reading the explain stage's outputs for the reports, a bounded number of patients at a time.

`predictions.csv` and `explanations.csv` may hold millions of patients; only the selected ones
are kept in memory (read in chunks, filtered, then grouped per patient).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from models.report.phrasing import Characteristic

PREDICTION_COLUMNS = ("patient_id", "calibrated_probability", "interval_low", "interval_high",
                      "base_logodds", "base_probability", "label", "out_of_distribution",
                      "warnings", "n_missing_features", "additivity_gap", "exactly_additive")
EXPLANATION_COLUMNS = ("patient_id", "feature", "value", "contribution_logodds",
                       "contribution_points")
CHUNK_ROWS = 200_000


class ReportInputError(ValueError):
    """An input file does not follow the explain stage's contract."""


def _chunks(path: Path, required: tuple[str, ...]) -> Iterator[pd.DataFrame]:
    # Everything as text: ids like "007" keep their zeros, values stay "as recorded", and an
    # empty cell stays "" (missing) instead of becoming NaN or the string "nan".
    reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS)
    for index, chunk in enumerate(reader):
        if index == 0:
            absent = [c for c in required if c not in chunk.columns]
            if absent:
                raise ReportInputError(f"{path} lacks column(s): {', '.join(absent)}")
        yield chunk


def dictionary_of(meta: dict, path: Path) -> dict[str, Characteristic]:
    """The model's feature dictionary, from the explanations' metadata → {feature name:
    Characteristic}."""
    rows = meta.get("dictionary")
    if not isinstance(rows, list):
        raise ReportInputError(f"{path} holds no feature dictionary: it was written by an older "
                               "txresponse; run explain (or score) again")
    return {row["name"]: Characteristic.from_dictionary_row(row) for row in rows}


def read_meta(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def select_predictions(path: Path, patient_ids: list[str] | None,
                       max_patients: int) -> list[dict]:
    """Prediction rows to render, in file order (default: the first `max_patients`) or in the
    order of `patient_ids`; never more than `max_patients`. Unknown ids are an error."""
    wanted = None if patient_ids is None else list(dict.fromkeys(patient_ids))[:max_patients]
    found: dict[str, dict] = {}
    for chunk in _chunks(path, PREDICTION_COLUMNS):
        if wanted is None:
            for row in chunk.head(max_patients - len(found)).to_dict(orient="records"):
                found.setdefault(row["patient_id"], row)
            if len(found) >= max_patients:
                break  # the default selection never reads past what it renders
        else:
            hits = chunk[chunk["patient_id"].isin(wanted)]
            for row in hits.to_dict(orient="records"):
                found.setdefault(row["patient_id"], row)
    if wanted is None:
        return list(found.values())
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise ReportInputError(f"{len(unknown)} patient id(s) not in {path}: "
                               f"{', '.join(map(repr, unknown[:5]))}")
    return [found[i] for i in wanted]


def explanations_for(path: Path, patient_ids: list[str]) -> dict[str, list[dict]]:
    """{patient_id: that patient's explanation rows} for the selected patients only."""
    selected = set(patient_ids)
    groups: dict[str, list[dict]] = {i: [] for i in patient_ids}
    for chunk in _chunks(path, EXPLANATION_COLUMNS):
        hits = chunk[chunk["patient_id"].isin(selected)]
        for row in hits.to_dict(orient="records"):
            groups[row["patient_id"]].append(row)
    return groups
