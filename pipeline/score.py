"""`txresponse score`: explained predictions and reports for new patients. Never retrains.

New patients pass the same de-identification gate and checks as training data, get the same
features (only what is known on the prediction day, so no endpoint is needed), and are scored
by exactly the model that was evaluated: by default the one the pipeline last trained, or any
MLflow model URI (`models:/<name>@champion`, `runs:/<id>/...`).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import typer
from rich.console import Console

from features.build import compute_features
from features.catalog import build_registry
from features.records import known_on
from models import tracking
from models.references import model_version, parse_model_uri
from models.report.writer import write_reports
from models.scoring import ScoringModel, explanation_meta, feature_words, score, write_scored
from pipeline.core.params import load_params
from pipeline.core.registries import load_registries
from pipeline.validation.errors import StructuralError
from pipeline.validation.run import validate_folder

console = Console(stderr=True)


def _from_mlflow(uri: str, into: Path) -> tuple[ScoringModel, dict]:
    """Download a logged model and find the saved ResponseModel folder inside it."""
    tracking.use_store()
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into)))
    folders = sorted(p.parent for p in local.rglob("model.json")
                     if (p.parent / "domain.json").exists() or "bootstrap" not in p.parts)
    if not folders:
        raise FileNotFoundError(f"{uri} holds no txresponse model (no model.json)")
    run = {"registered_model": None, "version": None, "run_id": None, "uri": uri}
    reference = parse_model_uri(uri)
    if reference is not None:
        version = model_version(mlflow.MlflowClient(), reference)
        run |= {"registered_model": reference.name, "version": version.version,
                "run_id": version.run_id}
    return ScoringModel.load(folders[0]), run


def _settings(scoring: ScoringModel, params) -> dict:
    """The feature settings the model was trained with; the current params for older models."""
    current = {"target_instrument": params.target.instrument,
               "baseline_window": list(params.target.baseline_window),
               "prediction_day": params.features.prediction_day,
               "biomarker_lookback_days": params.features.biomarker_lookback_days}
    stored = scoring.model.info.get("feature_settings")
    if stored is None:
        return current
    changed = sorted(k for k in stored if stored[k] != current.get(k))
    if changed:
        console.print(f"[yellow]Using the model's own feature settings for {', '.join(changed)}"
                      " (configs/params.yaml differs).[/yellow]")
    return stored


def main(
    data: Path = typer.Option(..., "--data", help="Folder of contract tables for the new "
                              "patients (baseline data is enough)."),
    out: Path = typer.Option(..., "--out", help="Folder for predictions.csv, explanations.csv "
                             "and patients/*.html."),
    model_uri: str = typer.Option(None, "--model-uri", help="MLflow model URI; default: the "
                                  "model the pipeline last trained (--model-dir)."),
    model_dir: Path = typer.Option(Path("artifacts/model"), "--model-dir",
                                   help="The train stage's output folder."),
    dictionary: Path = typer.Option(Path("reports/features.json"), "--dictionary",
                                    help="Feature dictionary (plain-language names)."),
    max_reports: int = typer.Option(1000, "--max-reports", min=0,
                                    help="Write at most this many patient reports."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params", help="Params."),
    config_dir: Path = typer.Option(Path("configs"), "--configs", help="Registries."),
) -> None:
    """Score new patients with the trained model: predictions, explanations and reports."""
    params, registries = load_params(params_file), load_registries(config_dir)
    try:
        outcomes, summary = validate_folder(data, registries,
                                            params.validation.max_quarantine_fraction)
    except StructuralError as error:
        console.print(f"[bold red]score stopped[/] (exit {int(error.code)}):", highlight=False)
        console.print(str(error), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(int(error.code)) from None
    tables = {name: outcome.passed for name, outcome in outcomes.items()}
    quarantined = sum(t["quarantined"] for t in summary["tables"].values())

    with tempfile.TemporaryDirectory() as scratch:
        if model_uri:
            scoring, run = _from_mlflow(model_uri, Path(scratch))
        else:
            scoring = ScoringModel.load(model_dir / "candidate")
            run = json.loads((model_dir / "mlflow_run.json").read_text(encoding="utf-8"))
        settings = _settings(scoring, params)
        registry = build_registry(registries, settings["target_instrument"],
                                  tuple(settings["baseline_window"]),
                                  settings["biomarker_lookback_days"])
        with console.status(f"Scoring {len(tables['patients']):,} patients"):
            features = compute_features(known_on(tables, settings["prediction_day"]),
                                        registry)
            predictions, explanations = score(scoring, features,
                                              words=feature_words(dictionary))
        meta = explanation_meta(scoring, run, params, registries)
    write_scored(out, predictions, explanations, meta)
    written = None
    if max_reports and len(predictions):
        written = write_reports(out / "predictions.csv", out / "explanations.csv",
                                out / "explanations_meta.json", dictionary, out / "patients",
                                patient_ids=None, max_patients=max_reports)
    console.print(f"Scored {len(predictions):,} patients ({quarantined:,} rows quarantined); "
                  f"{int(predictions['out_of_distribution'].sum()):,} flagged out of "
                  f"distribution; {written.reports if written else 0:,} reports. Wrote {out}/")
