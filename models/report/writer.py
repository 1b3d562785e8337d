"""Writes the patient reports and the index: the one entry point stages call.

Both the `report` stage and, later, `score` use `write_reports`, so a report looks the same
whichever stage produced it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from models.report import inputs, render
from models.report.view import index_row, patient_view

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
MAX_STEM = 120


class UnsafePatientId(ValueError):
    """A patient id that could escape the output folder (or is not usable as a file name)."""


def safe_file_name(patient_id: str) -> str:
    """`<patient_id>.html`, with anything but letters, digits, `.`, `_` and `-` replaced by `_`.

    Ids are pseudonymous, but they come from a file; one that tries to leave the folder (`..`,
    a slash, a leading dot, control characters) is refused rather than silently rewritten.
    """
    text = str(patient_id)
    if (not text.strip() or text.startswith(".") or ".." in text or "/" in text
            or "\\" in text or any(ord(ch) < 32 for ch in text) or len(text) > MAX_STEM):
        raise UnsafePatientId(f"patient id {text!r} cannot be used as a file name")
    return _UNSAFE.sub("_", text) + ".html"


@dataclass(frozen=True)
class Written:
    reports: int
    index: Path


def write_reports(predictions: Path, explanations: Path, meta_path: Path, out: Path,
                  patient_ids: list[str] | None = None, max_patients: int = 1000) -> Written:
    """Render one HTML report per selected patient and `index.html` into `out`.

    The names of the characteristics come from the model artifact's feature dictionary, which
    the explanations' metadata carries (models/scoring.explanation_meta).
    Every id is checked before anything is written, so a bad id leaves no partial folder.
    """
    meta = inputs.read_meta(meta_path)
    dictionary = inputs.dictionary_of(meta, meta_path)
    selected = inputs.select_predictions(predictions, patient_ids, max_patients)
    names: dict[str, str] = {"index.html": "the index page"}
    for row in selected:
        name = safe_file_name(row["patient_id"])
        if name.lower() in names:  # "a b" and "a_b", or case-insensitive file systems
            raise UnsafePatientId(f"patient ids {names[name.lower()]!r} and "
                                  f"{row['patient_id']!r} map to the same file {name}")
        names[name.lower()] = row["patient_id"]
    groups = inputs.explanations_for(explanations, [r["patient_id"] for r in selected])
    out.mkdir(parents=True, exist_ok=True)
    rows, outcome, model_name = [], "response", ""
    for prediction in selected:
        view = patient_view(prediction, groups.pop(prediction["patient_id"]), dictionary, meta)
        name = safe_file_name(prediction["patient_id"])
        (out / name).write_text(render.render_patient(view), encoding="utf-8")
        rows.append(index_row(view, name))
        outcome, model_name = view["outcome"], view["model_name"]
    index = out / "index.html"
    index.write_text(render.render_index(rows, meta, outcome, model_name), encoding="utf-8")
    return Written(reports=len(rows), index=index)
