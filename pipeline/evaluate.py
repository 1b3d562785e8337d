"""`txresponse evaluate`: test-set performance of the candidate (calibrated and not) and the
comparator, with intervals, calibration, decision curves and subgroups; logged to the training
run in MLflow."""
from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import typer
from rich.console import Console

from models import figures, tracking
from models.artifact import ResponseModel
from models.evaluation import evaluate, test_set
from pipeline.core.params import load_params
from pipeline.core.tables import read_sites

console = Console(stderr=True)


def _metrics_document(result: dict, candidate: ResponseModel, params) -> dict:
    """reports/metrics.json: the calibrated candidate's headline figures at the top level (what
    `dvc metrics show` prints), each compared model under `models`."""
    return {
        **result["headline"]["candidate_calibrated"],
        "model": {
            "classifier": candidate.classifier,
            "calibrator": candidate.calibrator.method,
            "exactly_additive": candidate.calibrator.exactly_additive,
            "target": f"{params.target.definition} on {params.target.instrument}",
            "split": f"holdout site {params.split.holdout_site}" if params.split.holdout_site
            else f"stratified {params.split.test_fraction:.0%} of labelled patients",
        },
        "models": {result["names"][role]: figures_ for role, figures_ in
                   result["headline"].items()},
    }


def _write_outputs(result: dict, metrics: dict, metrics_path: Path, details_path: Path,
                   plots_dir: Path, figures_dir: Path, predictions_path: Path,
                   outcome: str) -> None:
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    details = {
        "thresholds": result["thresholds"].round(4).to_dict(orient="records"),
        "subgroups": result["subgroups"].round(4).astype(object)
        .where(result["subgroups"].notna(), None).to_dict(orient="records"),
        "subgroups_skipped": result["subgroups_skipped"],
    }
    details_path.write_text(json.dumps(details, indent=2) + "\n", encoding="utf-8")
    for role, curves in result["curves"].items():
        for curve, frame in curves.items():
            path = plots_dir / curve / f"{role}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.round(6).to_csv(path, index=False, lineterminator="\n")
    y = result["predictions"]["label"].to_numpy()
    curves = {result["names"][role]: (y, p) for role, p in result["predicted"].items()}
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures.reliability_diagram(curves, figures_dir / "reliability.png", outcome=outcome)
    figures.roc_curves(curves, figures_dir / "roc.png")
    figures.decision_curves(curves, figures_dir / "decision_curve.png", outcome=outcome)
    predictions_path.parent.mkdir(parents=True, exist_ok=True)
    result["predictions"].round(6).to_csv(predictions_path, index=False, lineterminator="\n")


def main(
    features_dir: Path = typer.Option(..., "--features", help="features.parquet/labels.parquet."),
    validated: Path = typer.Option(..., "--validated", help="Validated tables (for sites)."),
    model_dir: Path = typer.Option(..., "--model", help="The train stage's --out folder."),
    metrics_path: Path = typer.Option(..., "--metrics", help="Headline metrics JSON."),
    details_path: Path = typer.Option(..., "--details", help="Thresholds and subgroups JSON."),
    plots_dir: Path = typer.Option(..., "--plots", help="Folder for DVC plot data (CSV)."),
    figures_dir: Path = typer.Option(..., "--figures", help="Folder for PNG figures."),
    predictions_path: Path = typer.Option(..., "--predictions",
                                          help="Test-set predictions CSV (pseudonymous ids)."),
    params_file: Path = typer.Option(Path("configs/params.yaml"), "--params", help="Params."),
    dictionary: Path = typer.Option(Path("reports/feature_dictionary.md"), "--dictionary",
                                    help="Feature dictionary, logged with the run."),
) -> None:
    """Evaluate the candidate and comparator on the held-out test patients.

    AUROC/AUPRC with bootstrap intervals, Brier, calibration (intercept, slope, ICI, ECE),
    decision curves, sensitivity/specificity/PPV/NPV at thresholds, and subgroups.
    """
    params = load_params(params_file)
    candidate = ResponseModel.load(model_dir / "candidate")
    comparator = ResponseModel.load(model_dir / "comparator")
    features = pd.read_parquet(features_dir / "features.parquet")
    labels = pd.read_parquet(features_dir / "labels.parquet")
    sites = read_sites(validated)
    split = pd.read_parquet(model_dir / "split.parquet")
    with console.status(f"Evaluating on {int((split['set'] == 'test').sum()):,} test patients "
                        f"({params.evaluate.bootstrap_resamples:,} bootstrap resamples)"):
        test = test_set(features, labels, split, sites)
        result = evaluate(candidate, comparator, test, seed=params.seed,
                          n_resamples=params.evaluate.bootstrap_resamples,
                          thresholds=params.evaluate.thresholds,
                          min_n=params.evaluate.min_subgroup_n,
                          min_events=params.evaluate.min_subgroup_events)
        metrics = _metrics_document(result, candidate, params)
        _write_outputs(result, metrics, metrics_path, details_path, plots_dir, figures_dir,
                       predictions_path, params.target.definition)

    run = json.loads((model_dir / "mlflow_run.json").read_text(encoding="utf-8"))
    tracking.configure(params.train.experiment)
    with mlflow.start_run(run_id=run["run_id"]):
        for role, headline in result["headline"].items():
            for key, value in headline.items():
                if isinstance(value, list):
                    mlflow.log_metrics({f"{role}.{key}_low": value[0],
                                        f"{role}.{key}_high": value[1]})
                elif value is not None:
                    mlflow.log_metric(f"{role}.{key}", value)
        mlflow.log_artifact(str(metrics_path), "evaluation")
        mlflow.log_artifact(str(details_path), "evaluation")
        mlflow.log_artifact(str(predictions_path), "evaluation")
        mlflow.log_artifacts(str(figures_dir), "figures")
        if dictionary.exists():
            mlflow.log_artifact(str(dictionary), "features")
    h = metrics
    console.print(f"Test AUROC {h['auroc']:.3f} (95 % CI {h['auroc_ci'][0]:.3f}-"
                  f"{h['auroc_ci'][1]:.3f}), Brier {h['brier']:.3f}, calibration slope "
                  f"{h['calibration_slope']:.2f}, ICI {h['ici']:.3f} on {h['n_test']} patients.")
