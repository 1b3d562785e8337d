"""`txresponse explain`: explained predictions for every test patient."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from models import tracking
from models.registration import is_evaluated, require_evaluated, with_version
from models.scoring import ScoringModel, explanation_meta, feature_words, score, write_scored
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries

console = Console(stderr=True)


def main(
    features_dir: Path = typer.Option(..., "--features", help="features.parquet/labels.parquet."),
    model_dir: Path = typer.Option(..., "--model", help="The train stage's --out folder."),
    out: Path = typer.Option(..., "--out", help="Folder for predictions.csv, "
                             "explanations.csv and explanations_meta.json."),
    dictionary: Path = typer.Option(..., "--dictionary",
                                    help="reports/features.json (plain-language names)."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params", help="Params."),
    config_dir: Path = typer.Option(Path("configs"), "--configs", help="Registries."),
    allow_unevaluated: bool = typer.Option(False, "--allow-unevaluated",
                                           help="Explain a model no evaluation has passed."),
) -> None:
    """Explain every test patient's prediction, exactly additive on the calibrated scale."""
    params, registries = load_params(params_file), load_registries(config_dir)
    scoring = ScoringModel.load(model_dir / "candidate")
    split = pd.read_parquet(model_dir / "split.parquet")
    test_ids = split.loc[split["set"] == "test", "patient_id"]
    features = pd.read_parquet(features_dir / "features.parquet").set_index("patient_id") \
        .loc[test_ids].reset_index()
    labels = pd.read_parquet(features_dir / "labels.parquet").set_index("patient_id")["label"]
    with console.status(f"Explaining {len(features):,} test patients"):
        predictions, explanations = score(scoring, features, labels,
                                          words=feature_words(dictionary))
    run = json.loads((model_dir / "mlflow_run.json").read_text(encoding="utf-8"))
    run, version = with_version(tracking.store_client(), run)
    require_evaluated(is_evaluated(version), f"the model in {model_dir}", allow_unevaluated)
    write_scored(out, predictions, explanations,
                 explanation_meta(scoring, run, params, registries))
    worst = float(predictions["additivity_gap"].abs().max()) if len(predictions) else 0.0
    console.print(f"Explained {len(predictions):,} patients; "
                  f"{int(predictions['out_of_distribution'].sum())} flagged out of distribution; "
                  f"largest additivity gap {worst:.2e} (log-odds). Wrote {out}/")
