"""`txresponse explain`: explained predictions for every test patient.

Everything the explanations say about the model (its target, the names and units of its
features) comes from the model artifact (models/bundle.py); labels built for another target
than the model's are refused."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from models import tracking
from models.bundle import ModelBundle, read_description
from models.registration import is_evaluated, require_evaluated, with_version
from models.scoring import explanation_meta, score, write_scored

console = Console(stderr=True)


def patients_to_explain(split: pd.DataFrame, everyone: pd.Series) -> tuple[pd.Series, str]:
    """The patients the deployed model did not learn from: the held-out test patients of a
    holdout split; with a resampling strategy the model learned from every labelled patient,
    so the patients without a label (who would be scored in the clinic)."""
    test = split.loc[split["set"] == "test", "patient_id"]
    if len(test):
        return test, "test patients"
    learned = set(split["patient_id"])
    return everyone[~everyone.isin(learned)], "patients the model did not learn from"


def main(
    features_dir: Path = typer.Option(..., "--features", help="features.parquet/labels.parquet."),
    model_dir: Path = typer.Option(..., "--model", help="The train stage's --out folder."),
    out: Path = typer.Option(..., "--out", help="Folder for predictions.csv, "
                             "explanations.csv and explanations_meta.json."),
    allow_unevaluated: bool = typer.Option(False, "--allow-unevaluated",
                                           help="Explain a model no evaluation has passed."),
) -> None:
    """Explain the prediction of every patient the model did not learn from (held-out test
    patients, or unlabelled patients when the model was developed on every labelled one),
    exactly additive on the calibrated scale."""
    scoring = ModelBundle.load(model_dir / "candidate")
    scoring.require_target(read_description(features_dir)["target"], str(features_dir))
    run = json.loads((model_dir / "mlflow_run.json").read_text(encoding="utf-8"))
    run, version = with_version(tracking.store_client(), run)
    require_evaluated(is_evaluated(version), f"the model in {model_dir}", allow_unevaluated)
    split = pd.read_parquet(model_dir / "split.parquet")
    features = pd.read_parquet(features_dir / "features.parquet")
    ids, who = patients_to_explain(split, features["patient_id"])
    features = features.set_index("patient_id").loc[ids].reset_index()
    labels = pd.read_parquet(features_dir / "labels.parquet").set_index("patient_id")["label"]
    with console.status(f"Explaining {len(features):,} {who}"):
        predictions, explanations = score(scoring, features, labels)
    write_scored(out, predictions, explanations, explanation_meta(scoring, run))
    worst = float(predictions["additivity_gap"].abs().max()) if len(predictions) else 0.0
    console.print(f"Explained {len(predictions):,} patients; "
                  f"{int(predictions['out_of_distribution'].sum())} flagged out of distribution; "
                  f"largest additivity gap {worst:.2e} (log-odds). Wrote {out}/")
