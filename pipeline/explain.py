"""`txresponse explain`: explained predictions for every test patient."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from models.scoring import INTERVAL_LEVEL, ScoringModel, score
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries

console = Console(stderr=True)


def explanation_meta(scoring: ScoringModel, run: dict, params, registries) -> dict:
    """What every report states about the model and the target."""
    model = scoring.model
    instrument = registries.instruments[params.target.instrument]
    return {
        "model": {"classifier": model.classifier,
                  "registered_model": run.get("registered_model"),
                  "version": run.get("version"), "run_id": run.get("run_id"),
                  "calibrator": model.calibrator.method,
                  "exactly_additive": model.calibrator.exactly_additive},
        "target": {"instrument": instrument.key, "instrument_label": instrument.label,
                   "definition": params.target.definition,
                   "min_reduction": params.target.min_reduction,
                   "baseline_window": list(params.target.baseline_window),
                   "endpoint_window": list(params.target.endpoint_window),
                   "remission_max": instrument.remission_max},
        "interval": {"method": "bootstrap refits of the model "
                               f"({len(scoring.replicates)} replicates), central "
                               f"{INTERVAL_LEVEL:.0%} of their calibrated probabilities",
                     "level": INTERVAL_LEVEL},
        "base_probability": None,  # filled in from the explanation
        "development_prevalence": model.info.get("development_prevalence"),
        "n_development": model.info.get("n_development"),
        "generated": date.today().isoformat(),
    }


def feature_labels(dictionary_path: Path) -> dict[str, str]:
    rows = json.loads(dictionary_path.read_text(encoding="utf-8")).get("dictionary", [])
    return {row["name"]: row["label"] for row in rows}


def main(
    features_dir: Path = typer.Option(..., "--features", help="features.parquet/labels.parquet."),
    model_dir: Path = typer.Option(..., "--model", help="The train stage's --out folder."),
    out: Path = typer.Option(..., "--out", help="Folder for predictions.csv, "
                             "explanations.csv and explanations_meta.json."),
    dictionary: Path = typer.Option(..., "--dictionary",
                                    help="reports/features.json (plain-language names)."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params", help="Params."),
    config_dir: Path = typer.Option(Path("configs"), "--configs", help="Registries."),
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
        predictions, explanations = score(scoring, features, labels, feature_labels(dictionary))
    run = json.loads((model_dir / "mlflow_run.json").read_text(encoding="utf-8"))
    meta = explanation_meta(scoring, run, params, registries)
    meta["base_probability"] = float(predictions["base_probability"].iloc[0]) \
        if len(predictions) else None
    out.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(out / "predictions.csv", index=False, lineterminator="\n")
    explanations.to_csv(out / "explanations.csv", index=False, lineterminator="\n")
    (out / "explanations_meta.json").write_text(json.dumps(meta, indent=2) + "\n",
                                                encoding="utf-8")
    worst = float(predictions["additivity_gap"].abs().max()) if len(predictions) else 0.0
    console.print(f"Explained {len(predictions):,} patients; "
                  f"{int(predictions['out_of_distribution'].sum())} flagged out of distribution; "
                  f"largest additivity gap {worst:.2e} (log-odds). Wrote {out}/")
