"""Fake-but-consistent training runs for the comparison tests: simulated test patients, two
sets of predictions on the same patients, one on other patients, each logged to MLflow with
exactly the params, metrics, tags and artifacts the train and evaluate stages log."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from models.metrics import headline_metrics
from models.subgroups import subgroup_metrics

TARGET = {"instrument": "madrs", "definition": "response", "baseline_window": "[-14, 0]",
          "endpoint_window": "[10, 28]", "min_reduction": "0.5"}
PARAMS = {"seed": 20261126, "candidate": "lightgbm", "train.model": "auto",
          "train.calibrator": "platt", "train.cv_folds": 5, "train.search_budget": 12,
          "train.uncertainty_replicates": 20, "split.test_fraction": 0.25,
          "split.holdout_site": "None", "features.prediction_day": 0,
          "features.biomarker_lookback_days": 90, "hp.num_leaves": 4,
          "hp.learning_rate": 0.02}


def patients(n: int, seed: int, prefix: str = "pt-") -> pd.DataFrame:
    """Pseudonymous ids, a latent log-odds of response, the outcome and subgroup variables."""
    rng = np.random.default_rng(seed)
    ids = [f"{prefix}{seed:02d}{i:05d}x" for i in range(n)]
    risk = rng.normal(0, 1.1, n)
    return pd.DataFrame({
        "patient_id": ids, "risk": risk,
        "label": rng.binomial(1, 1 / (1 + np.exp(-risk))),
        "sex": rng.choice(["female", "male", "other"], n, p=[0.52, 0.45, 0.03]),
        "site": rng.choice(["site_01", "site_02", "site_03"], n),
    })


def predictions(cohort: pd.DataFrame, noise: float, seed: int) -> np.ndarray:
    """A model that sees the latent risk through noise (more noise, worse discrimination)."""
    rng = np.random.default_rng(seed)
    score = cohort["risk"].to_numpy() + rng.normal(0, noise, len(cohort))
    return np.clip(1 / (1 + np.exp(-0.9 * score)), 0.001, 0.999)


def _tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def log_training_run(folder: Path, cohort: pd.DataFrame, p: np.ndarray, *,
                     params: dict | None = None, tags: dict | None = None,
                     experiment: str = "txresponse", n_resamples: int = 100,
                     all_intervals: bool = False, log_predictions: bool = True) -> str:
    """One "training run" as the train and evaluate stages record it; its run id.

    `all_intervals`: an interval for every headline measure of the calibrated candidate, as the
    evaluate stage logs now (else AUROC and AUPRC only, as older runs have).
    `log_predictions`: False as with evaluate.log_patient_predictions: false (no
    test_predictions.csv artifact, tag evaluation.patient_predictions_logged = "false")."""
    folder.mkdir(parents=True, exist_ok=True)
    y = cohort["label"].to_numpy()
    predicted = {"candidate_calibrated": p, "candidate_uncalibrated": np.clip(p * 1.05, 0, 0.999),
                 "comparator_calibrated": np.clip(0.5 + 0.5 * (p - 0.5), 0.001, 0.999)}
    headline = {role: headline_metrics(y, q, seed=1, n_resamples=n_resamples,
                                       all_intervals=all_intervals
                                       and role == "candidate_calibrated")
                for role, q in predicted.items()}
    subgroups = subgroup_metrics(cohort, y, p, {"sex": "sex", "site": "site"})
    details = {"thresholds": [],
               "subgroups": subgroups.round(4).astype(object).where(subgroups.notna(), None)
               .to_dict(orient="records")}
    (folder / "evaluation.json").write_text(json.dumps(details), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(headline["candidate_calibrated"]),
                                         encoding="utf-8")
    pd.DataFrame({"patient_id": cohort["patient_id"], "label": y, **predicted}).round(6) \
        .to_csv(folder / "test_predictions.csv", index=False)
    figures = folder / "figures"
    figures.mkdir(exist_ok=True)
    for name in ("roc", "reliability", "decision_curve"):
        (figures / f"{name}.png").write_bytes(_tiny_png())
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="train-lightgbm") as run:
        mlflow.log_params(PARAMS | (params or {}))
        mlflow.set_tags({"git_commit": "0" * 40, "data_digest": "d" * 32,
                         "features_digest": "f" * 32, "raw_dir": "data/raw/demo",
                         "dvc.features.data/features.md5": "e" * 32 + ".dir"}
                        | {f"target.{k}": v for k, v in TARGET.items()}
                        | {"evaluation.patient_predictions_logged": str(log_predictions).lower()}
                        | (tags or {}))
        for role, values in headline.items():
            for key, value in values.items():
                if isinstance(value, list):
                    mlflow.log_metrics({f"{role}.{key}_low": value[0],
                                        f"{role}.{key}_high": value[1]})
                elif value is not None:
                    mlflow.log_metric(f"{role}.{key}", value)
        for name in ("metrics.json", "evaluation.json",
                     *(("test_predictions.csv",) if log_predictions else ())):
            mlflow.log_artifact(str(folder / name), "evaluation")
        mlflow.log_artifacts(str(figures), "figures")
        mlflow.log_dict({"candidate": "lightgbm"}, "training.json")
        return run.info.run_id


def register(run_id: str, name: str, *aliases: str) -> str:
    """A version of `name` for the run (its model files are not needed here), with aliases."""
    client = MlflowClient()
    try:
        client.create_registered_model(name)
    except mlflow.exceptions.MlflowException:
        pass  # already there
    version = client.create_model_version(name, source=f"runs:/{run_id}/response_model",
                                          run_id=run_id)
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version.version)
    return version.version
