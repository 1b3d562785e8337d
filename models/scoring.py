"""Predictions with explanations, intervals and out-of-distribution flags for any patients.

Shared by the explain stage (test patients) and `txresponse score` (new patients), so both
write files with the same meaning.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from models.artifact import ResponseModel
from models.bundle import ModelBundle
from models.calibration import expit, logit
from models.explain import explain, long_format
from models.layout import KEY
from models.ood import flag, missing_characteristics
from models.uncertainty import interval_description
from pipeline.core.atomic import write_text
from pipeline.core.escaping import write_csv

INTERVAL_LEVEL = 0.95


def lightgbm_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The model frame as LightGBM itself encodes it: numbers as float64 and each category as
    its code in the training categories (missing: NaN). Built once, it serves every replicate;
    predictions are identical to passing the frame (tested)."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy().astype(float)
            codes[codes < 0] = np.nan
            columns.append(codes)
        else:
            columns.append(column.to_numpy(dtype=float, na_value=np.nan))
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def replicate_logodds(replicates: list[ResponseModel], features: pd.DataFrame) -> np.ndarray:
    """Calibrated log-odds of every replicate (rows) for every patient (columns).

    The replicates share the candidate's feature layout, so the model frame is built once
    rather than once per replicate: that conversion, not the trees, was most of the cost of
    an interval (pyinstrument, docs/benchmarks.md)."""
    draws = np.empty((len(replicates), len(features)))
    matrices: dict[str, np.ndarray] = {}
    frames: dict[str, pd.DataFrame] = {}
    for i, replicate in enumerate(replicates):
        if replicate.classifier not in ("lightgbm", "ebm"):
            draws[i] = logit(replicate.predict_proba(features))
            continue
        key = json.dumps(replicate.layout.to_dict(), sort_keys=True)
        if key not in frames:
            frames[key] = replicate.layout.frame(features)
        if replicate.classifier == "ebm":
            raw = replicate.ebm.decision_function(frames[key])
        else:
            if key not in matrices:
                matrices[key] = lightgbm_matrix(frames[key])
            raw = replicate.booster.predict(matrices[key], raw_score=True)
        if replicate.calibrator.method == "platt":
            draws[i] = replicate.calibrator.logodds(raw)
        else:
            draws[i] = logit(replicate.calibrator.transform(expit(raw)))
    return draws


def probability_interval(replicates: list[ResponseModel], features: pd.DataFrame,
                         level: float, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): the calibrated prediction plus or minus z x the replicates' standard
    deviation on the log-odds scale (see models/uncertainty.py); NaN without replicates."""
    if not replicates:
        nan = np.full(len(features), np.nan)
        return nan, nan
    draws = replicate_logodds(replicates, features)
    half = NormalDist().inv_cdf(0.5 + level / 2) * draws.std(axis=0, ddof=1)
    middle = logit(centre)
    return expit(middle - half), expit(middle + half)


def score(scoring: ModelBundle, features: pd.DataFrame, labels: pd.Series | None = None
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(predictions, explanations) for the patients in `features` (one row each)."""
    if features.empty:
        # No patient (a chunk whose every patient was quarantined): score one all-missing row
        # and keep none of it, so the empty tables have the columns and types of full ones.
        blank = pd.DataFrame({c: pd.Series([pd.NA], dtype=features[c].dtype)
                              for c in features.columns}).assign(**{KEY: "none"})
        predictions, explanations = score(scoring, blank)
        return predictions.iloc[:0], explanations.iloc[:0]
    model = scoring.model
    ids = features[KEY].to_numpy()
    explanation = explain(model, features)
    low, high = probability_interval(scoring.replicates, features, INTERVAL_LEVEL,
                                     centre=explanation.calibrated_probability)
    if scoring.domain is not None:
        feature_label, feature_unit = scoring.words
        ood, warnings, missing = flag(scoring.domain, model.layout, features, feature_label,
                                      feature_unit)
    else:
        ood = np.zeros(len(ids), dtype=int)
        warnings = [""] * len(ids)
        missing, _ = missing_characteristics(model.layout.frame(features))
    label = labels.reindex(ids).astype("Int64").array if labels is not None \
        else pd.array([pd.NA] * len(ids), dtype="Int64")
    predictions = pd.DataFrame({
        KEY: ids,
        "calibrated_probability": explanation.calibrated_probability,
        "interval_low": low,
        "interval_high": high,
        "base_logodds": explanation.base_logodds,
        "base_probability": explanation.base_probability,
        "label": label,
        "out_of_distribution": ood,
        "warnings": warnings,
        "n_missing_features": missing,
        "additivity_gap": explanation.additivity_gap,
        "exactly_additive": int(model.calibrator.exactly_additive),
    })
    return predictions, long_format(ids, features, explanation)


def explanation_meta(scoring: ModelBundle, run: dict) -> dict:
    """What every report states about the model, its target and its features: all from the
    model artifact, none from today's configuration."""
    model = scoring.model
    return {
        "model": {"classifier": model.classifier,
                  "registered_model": run.get("registered_model"),
                  "version": run.get("version"), "run_id": run.get("run_id"),
                  "calibrator": model.calibrator.method,
                  "exactly_additive": model.calibrator.exactly_additive},
        "target": dict(scoring.target),
        "dictionary": scoring.dictionary,
        "interval": {"method": "bootstrap refits of the model "
                               f"({len(scoring.replicates)} replicates): the prediction plus or "
                               "minus 1.96 standard deviations of their calibrated log-odds",
                     "level": INTERVAL_LEVEL,
                     # Added: what the range is called and how often it held when measured
                     # (`level` is how it is built, ± 1.96 SDs, not its coverage).
                     **{k: v for k, v in interval_description(
                         len(scoring.replicates), model.info.get("n_development")).items()
                        if k in ("name", "measured_coverage", "coverage_statement")}},
        "base_probability": None,  # set from the explanation by write_scored
        "development_prevalence": model.info.get("development_prevalence"),
        "n_development": model.info.get("n_development"),
        "sample_size": scoring.sample_size,
        "generated": date.today().isoformat(),
    }


def write_scored(out: Path, predictions: pd.DataFrame, explanations: pd.DataFrame,
                 meta: dict) -> None:
    """predictions.csv, explanations.csv and explanations_meta.json, as the reports read them."""
    meta = meta | {"base_probability": float(predictions["base_probability"].iloc[0])
                   if len(predictions) else None}
    # Each file is replaced whole (a stopped run never leaves half a table).
    write_csv(predictions, out / "predictions.csv")  # formulas neutralised, one rename each
    write_csv(explanations, out / "explanations.csv")
    write_text(out / "explanations_meta.json", json.dumps(meta, indent=2) + "\n")
