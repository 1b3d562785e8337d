"""Hand-made inputs in the explain stage's format (predictions, explanations, meta, dictionary).

Five patients cover what a report must handle: a high and a low chance, one unlike the training
patients (two warnings), one with most information missing, and one whose declared covariate
`employment` holds a script-injection string.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

INJECTION = "<script>alert(1)</script>"
BASE = 0.45
DICTIONARY = [
    {"name": "prior_failed_trials", "label": "failed antidepressant trials", "unit": "trials",
     "kind": "numeric", "sources": "treatments"},
    {"name": "benzodiazepine_at_index", "label": "taking a benzodiazepine", "unit": "0/1",
     "kind": "binary", "sources": "treatments"},
    {"name": "bmi", "label": "body-mass index", "unit": "kg/m²", "kind": "numeric",
     "sources": "patients"},
    {"name": "crp_mg_l", "label": "C-reactive protein", "unit": "mg/L", "kind": "numeric",
     "sources": "biomarkers"},
    {"name": "baseline_madrs", "label": "baseline MADRS", "unit": "points (0-60)",
     "kind": "numeric", "sources": "assessments"},
    {"name": "employment", "label": "employment status", "unit": "", "kind": "categorical",
     "sources": "patients"},
    {"name": "lives_alone", "label": "lives alone", "unit": "", "kind": "binary",
     "sources": "patients"},
    {"name": "ect_history", "label": "previous ECT", "unit": "0/1", "kind": "binary",
     "sources": "treatments"},
    {"name": "route", "label": "route of ketamine/esketamine", "unit": "", "kind": "categorical",
     "sources": "sessions"},
    {"name": "dose", "label": "first dose", "unit": "mg/kg or mg", "kind": "numeric",
     "sources": "sessions"},
    {"name": "dose_unit", "label": "dose unit", "unit": "", "kind": "categorical",
     "sources": "sessions"},
    {"name": "family_history_aud", "label": "family history of alcohol use disorder",
     "unit": "0/1", "kind": "binary", "sources": "patients"},
]
FEATURES = [row["name"] for row in DICTIONARY]
TYPICAL = {"prior_failed_trials": "3", "benzodiazepine_at_index": "0", "bmi": "27.5",
           "crp_mg_l": "1.2", "baseline_madrs": "34", "employment": "employed",
           "lives_alone": "0", "ect_history": "0", "route": "iv", "dose": "0.5",
           "dose_unit": "mg_per_kg", "family_history_aud": "0"}


@dataclass
class Patient:
    patient_id: str
    probability: float
    values: dict
    points: dict  # feature -> percentage points; the remainder goes to the last feature
    label: str = ""
    out_of_distribution: int = 0
    warnings: str = ""
    exactly_additive: int = 1
    additivity_gap: float = 0.0


PATIENTS = [
    Patient("pt-high", 0.78, {"bmi": "34.2", "family_history_aud": "1"},
            {"bmi": 12.4, "family_history_aud": 9.6, "prior_failed_trials": 3.1,
             "baseline_madrs": 0.2}, label="1"),
    Patient("pt-low", 0.12, {"prior_failed_trials": "4", "benzodiazepine_at_index": "1",
                             "crp_mg_l": ""},
            {"prior_failed_trials": -7.2, "benzodiazepine_at_index": -11.8, "crp_mg_l": -4.4,
             "bmi": 0.7}, label="0", exactly_additive=0, additivity_gap=0.0123),
    Patient("pt-unusual", 0.40, {"bmi": "61.0", "route": "im"},
            {"bmi": 4.0, "route": -6.0}, out_of_distribution=1,
            warnings="body-mass index 61.0 kg/m² is above anything seen in training (15.2–48.9)"
                     " | route 'im' was never seen in training"),
    Patient("pt-sparse", 0.44, {f: "" for f in FEATURES[:9]}, {"crp_mg_l": -1.5}),
    Patient("pt-inject", 0.55, {"employment": INJECTION}, {"employment": 8.3}),
]


def write_inputs(folder: Path, patients: list[Patient] = PATIENTS) -> dict[str, Path]:
    """Write the three input files into `folder`; returns their paths by option name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / file for name, file in [
        ("predictions", "predictions.csv"), ("explanations", "explanations.csv"),
        ("meta", "explanations_meta.json")]}
    with paths["predictions"].open("w", newline="", encoding="utf-8") as p_file, \
            paths["explanations"].open("w", newline="", encoding="utf-8") as e_file:
        predictions, explanations = csv.writer(p_file), csv.writer(e_file)
        predictions.writerow(["patient_id", "calibrated_probability", "interval_low",
                              "interval_high", "base_logodds", "base_probability", "label",
                              "out_of_distribution", "warnings", "n_missing_features",
                              "additivity_gap", "exactly_additive"])
        explanations.writerow(["patient_id", "feature", "value", "contribution_logodds",
                               "contribution_points"])
        for patient in patients:
            values = {**TYPICAL, **patient.values}
            points = {f: patient.points.get(f, 0.0) for f in FEATURES}
            listed = sum(points.values()) - points[FEATURES[-1]]
            points[FEATURES[-1]] = 100 * (patient.probability - BASE) - listed
            missing = sum(1 for v in values.values() if v == "")
            predictions.writerow([
                patient.patient_id, patient.probability, max(patient.probability - 0.11, 0.01),
                min(patient.probability + 0.10, 0.99), -0.2007, BASE, patient.label,
                patient.out_of_distribution, patient.warnings, missing, patient.additivity_gap,
                patient.exactly_additive])
            for feature in FEATURES:
                explanations.writerow([patient.patient_id, feature, values[feature],
                                       round(points[feature] / 24, 6), points[feature]])
    paths["meta"].write_text(json.dumps({
        "model": {"classifier": "lightgbm", "registered_model": "txresponse-response",
                  "version": "3", "run_id": "0123456789abcdef0123456789abcdef",
                  "calibrator": "platt", "exactly_additive": True},
        "target": {"instrument": "madrs", "instrument_label": "MADRS", "definition": "response",
                   "min_reduction": 0.5, "endpoint_window": [10, 28], "remission_max": 10},
        "interval": {"method": "bootstrap refits", "level": 0.9},
        "dictionary": DICTIONARY,  # the model artifact's feature dictionary (models/bundle.py)
        "base_probability": BASE, "development_prevalence": 0.47, "n_development": 1500,
        "generated": "2026-05-04"}), encoding="utf-8")
    return paths


@pytest.fixture
def report_inputs(tmp_path) -> dict[str, Path]:
    return write_inputs(tmp_path / "inputs")
